# 2D-TAN on ActivityNet Captions with simvtp ViT-B features (paper Table 2:
# R1@0.5 / R1@0.7 / R5@0.5 / R5@0.7 = 49.2 / 29.4 / 80.0 / 65.1).
# Hyper-parameters of 2D-TAN's 2D-TAN-64x64-K9L4-conv.yaml: N=64, scales
# [16, 8, 8], 4 map convs k9, IoU bounds 0.5-1.0, Adam 1e-4, batch 32.
# Splits as 2D-TAN: train.json, val_1.json (validation: checkpoint
# selection), val_2.json (test).
#
# 1. features, 2D-TAN's ActivityNet layout f[vid]['c3d_features'] (video
#    files named v_XXXX.mp4 give the annotation ids):
#    tools/dist_extract_features.sh configs/simvtp/pretrain_vitb.py CKPT \
#        data/activitynet/videos data/activitynet/simvtp_vitb_features.hdf5 \
#        8 --layout activitynet
# 2. SIMVTP_PRETRAINED=CKPT tools/dist_train.sh \
#        configs/grounding/tan2d_activitynet_captions.py 1
_base_ = [
    '../_base_/models/tan2d_charades.py',
    '../_base_/datasets/grounding_features.py',
    '../_base_/schedules/adam_2dtan_100e.py',
    '../_base_/default_runtime.py',
]

data_root = 'data/activitynet'
model = dict(
    frame_pool=dict(in_channels=768, kernel_size=4, stride=4),
    proposal=dict(num_scale_layers=[16, 8, 8]),
    map_conv=dict(hidden_dims=[512] * 4, kernel_sizes=[9] * 4),
    loss=dict(min_iou=0.5, max_iou=1.0))

dataset = dict(
    type='ActivityNetCaptionsGroundingDataset',
    feature_file=data_root + '/simvtp_vitb_features.hdf5',
    feature_layout='activitynet')
train_dataloader = dict(
    dataset=dict(dataset, ann_file=data_root + '/train.json'))
val_dataloader = dict(
    dataset=dict(dataset, ann_file=data_root + '/val_1.json'))
test_dataloader = dict(
    dataset=dict(dataset, ann_file=data_root + '/val_2.json'))
val_evaluator = dict(iou_thresholds=(0.3, 0.5, 0.7))
test_evaluator = val_evaluator
default_hooks = dict(
    checkpoint=dict(max_keep_ckpts=1, save_best='grounding/R1@IoU0.5',
                    rule='greater'))
