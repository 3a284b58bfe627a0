# 2D-TAN on TACoS with simvtp ViT-B features (paper Table 2: R1@0.3 /
# R1@0.5 / R5@0.3 / R5@0.5 = 43.1 / 30.3 / 63.1 / 49.6).
# Hyper-parameters of 2D-TAN's 2D-TAN-128x128-K5L8-conv.yaml: N=128, scales
# [16, 8, 8, 8], 8 map convs k5, IoU bounds 0.3-0.7, Adam 1e-4, batch 32.
# Annotations as 2D-TAN distributes them (train / val / test .json with
# timestamps in frames, fps and num_frames). 2D-TAN does not use the val
# split (NO_VAL) and selects on test; here val selects the checkpoint.
#
# 1. features, 2D-TAN's TACoS layout f[vid] with ids = file names
#    (s30-d52.avi):
#    tools/dist_extract_features.sh configs/simvtp/pretrain_vitb.py CKPT \
#        data/tacos/videos data/tacos/simvtp_vitb_features.hdf5 8 \
#        --layout tacos --key name
# 2. SIMVTP_PRETRAINED=CKPT tools/dist_train.sh configs/grounding/tan2d_tacos.py 1
_base_ = [
    '../_base_/models/tan2d_charades.py',
    '../_base_/datasets/grounding_features.py',
    '../_base_/schedules/adam_2dtan_100e.py',
    '../_base_/default_runtime.py',
]

data_root = 'data/tacos'
model = dict(
    frame_pool=dict(in_channels=768, kernel_size=2, stride=2),
    proposal=dict(num_scale_layers=[16, 8, 8, 8]),
    map_conv=dict(hidden_dims=[512] * 8, kernel_sizes=[5] * 8),
    loss=dict(min_iou=0.3, max_iou=0.7))

dataset = dict(
    type='TACoSGroundingDataset',
    feature_file=data_root + '/simvtp_vitb_features.hdf5',
    feature_layout='tacos')
train_dataloader = dict(
    dataset=dict(dataset, ann_file=data_root + '/train.json'))
val_dataloader = dict(
    dataset=dict(dataset, ann_file=data_root + '/val.json'))
test_dataloader = dict(
    dataset=dict(dataset, ann_file=data_root + '/test.json'))
val_evaluator = dict(iou_thresholds=(0.1, 0.3, 0.5, 0.7))
test_evaluator = val_evaluator
# TACoS is reported at IoU 0.3 / 0.5: select and schedule on R1@IoU0.3
default_hooks = dict(
    checkpoint=dict(max_keep_ckpts=1, save_best='grounding/R1@IoU0.3',
                    rule='greater'))
param_scheduler = [
    dict(type='ReduceOnPlateauLR', monitor='grounding/R1@IoU0.3',
         rule='greater', factor=0.8, patience=20, by_epoch=True)
]
