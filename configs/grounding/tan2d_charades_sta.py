# 2D-TAN on Charades-STA with simvtp ViT-B features (paper Table 2:
# R1@0.5 / R1@0.7 / R5@0.5 / R5@0.7 = 44.7 / 26.3 / 83.7 / 55.1).
# Hyper-parameters of 2D-TAN's 2D-TAN-16x16-K5L8-conv.yaml: N=16, one scale
# of 16 layers, 8 map convs k5, IoU bounds 0.5-1.0, Adam 1e-4, batch 32.
#
# 1. features (one vector per non-overlapping 16-frame clip at interval 4),
#    2D-TAN's Charades layout f[vid]:
#    tools/dist_extract_features.sh configs/simvtp/pretrain_vitb.py CKPT \
#        data/charades/videos data/charades/simvtp_vitb_features.hdf5 8 \
#        --layout charades
# 2. SIMVTP_PRETRAINED=CKPT tools/dist_train.sh \
#        configs/grounding/tan2d_charades_sta.py 1
#
# Charades-STA has no validation split (2D-TAN selects its checkpoint on
# the test split). Here 10% of the training videos (seed 0) are held out
# for checkpoint selection and the test split is used once, at the end.
_base_ = [
    '../_base_/models/tan2d_charades.py',
    '../_base_/datasets/grounding_features.py',
    '../_base_/schedules/adam_2dtan_100e.py',
    '../_base_/default_runtime.py',
]

data_root = 'data/charades'
dataset = dict(
    type='CharadesSTAGroundingDataset',
    ann_file=data_root + '/charades_sta_train.txt',
    duration_file=data_root + '/Charades_v1_train.csv',
    feature_file=data_root + '/simvtp_vitb_features.hdf5',
    feature_layout='charades')
holdout = dict(fraction=0.1, seed=0)
train_dataloader = dict(
    dataset=dict(dataset, holdout=dict(holdout, part='train')))
val_dataloader = dict(
    dataset=dict(dataset, holdout=dict(holdout, part='heldout')))
test_dataloader = dict(
    dataset=dict(dataset, ann_file=data_root + '/charades_sta_test.txt',
                 duration_file=data_root + '/Charades_v1_test.csv'))
default_hooks = dict(
    checkpoint=dict(max_keep_ckpts=1, save_best='grounding/R1@IoU0.5',
                    rule='greater'))
