# Something-Something V2 fine-tuning of a SimVTP ViT-B/16 encoder, VideoMAE's
# recipe (MCG-NJU/VideoMAE scripts/ssv2/.../finetune.sh +
# run_class_finetuning defaults): 16 frames sampled uniformly over the video
# (one per segment), 224 px, 50 epochs (5 warm-up), lr 5e-4 per 256 clips
# (1e-3 for their total batch of 512), layer decay 0.75, drop path 0.1,
# RandAugment m7-n4-mstd0.5-inc1, random erasing 0.25, Mixup/CutMix + label
# smoothing 0.1, no flips (SSv2 labels name left and right); test 2 clips x
# 3 crops, AccMetric.
#   tools/dist_train.sh configs/recognition/vitb_u16_sthv2.py 8 \
#       --auto-scale-lr --cfg-options \
#       model.backbone.init_cfg.checkpoint=work_dirs/pretrain_vitb/epoch_200.pth
#   tools/dist_test.sh configs/recognition/vitb_u16_sthv2.py \
#       work_dirs/vitb_u16_sthv2/best_acc_top1_epoch_N.pth 8
# Data: mmaction2's sthv2 video layout (tools/data/sthv2 in mmaction2).
_base_ = ['./vitb_16x4x1_kinetics400.py']

num_classes = 174
model = dict(
    cls_head=dict(num_classes=num_classes),
    data_preprocessor=dict(blending=dict(augments=[
        dict(type='MixupBlending', alpha=0.8, num_classes=num_classes),
        dict(type='CutmixBlending', alpha=1.0, num_classes=num_classes)
    ])))

data_root = 'data/sthv2/videos'
ann_file_train = 'data/sthv2/sthv2_train_list_videos.txt'
ann_file_val = 'data/sthv2/sthv2_val_list_videos.txt'

train_pipeline = [
    dict(type='DecordInit'),
    dict(type='UniformSample', clip_len=16),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='RandomResizedCrop', area_range=(0.08, 1.0)),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='VideoRandAugment', num_ops=4, magnitude=7, magnitude_std=0.5,
         increasing=True),
    dict(type='VideoRandomErasing', erase_prob=0.25, mode='pixel',
         max_count=1),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
val_pipeline = [
    dict(type='DecordInit'),
    dict(type='UniformSample', clip_len=16, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
test_pipeline = [
    dict(type='DecordInit'),
    dict(type='UniformSample', clip_len=16, num_clips=2, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='ThreeCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
train_dataloader = dict(dataset=dict(
    ann_file=ann_file_train, data_prefix=dict(video=data_root),
    pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(
    ann_file=ann_file_val, data_prefix=dict(video=data_root),
    pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(
    ann_file=ann_file_val, data_prefix=dict(video=data_root),
    pipeline=test_pipeline))

max_epochs = 50
warmup_epochs = 5
base_lr = 1e-3
min_lr = 1e-6
optim_wrapper = dict(optimizer=dict(lr=base_lr))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min=min_lr, by_epoch=True, begin=warmup_epochs, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
