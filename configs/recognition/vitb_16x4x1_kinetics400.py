# Kinetics-400 fine-tuning of a SimVTP ViT-B/16 encoder, VideoMAE's recipe
# (MCG-NJU/VideoMAE scripts/kinetics/.../finetune.sh + run_class_finetuning
# defaults): 16 frames at interval 4, 224 px, 100 epochs (5 warm-up),
# lr 1e-3 per 256 clips (2e-3 for their total batch of 512), layer decay
# 0.75, drop path 0.1, RandAugment m7-n4-mstd0.5-inc1, random erasing 0.25,
# Mixup/CutMix + label smoothing 0.1; test 5 clips x 3 crops (mmaction2's
# VideoMAE test protocol), AccMetric.
#   tools/dist_train.sh configs/recognition/vitb_16x4x1_kinetics400.py 8 \
#       --auto-scale-lr --cfg-options \
#       model.backbone.init_cfg.checkpoint=work_dirs/pretrain_vitb/epoch_200.pth
#   tools/dist_test.sh configs/recognition/vitb_16x4x1_kinetics400.py \
#       work_dirs/vitb_16x4x1_kinetics400/best_acc_top1_epoch_N.pth 8
# Data: mmaction2's Kinetics-400 video layout (tools/data/kinetics in
# mmaction2): data/kinetics400/videos_{train,val} + *_list_videos.txt.
_base_ = [
    '../_base_/models/recognizer_simvtp_vitb.py',
    '../_base_/schedules/adamw_layer_decay_cosine.py',
    '../_base_/default_runtime.py',
]
# mmaction2's recognisers, heads and preprocessors are found by bare name
# through the simvtp registry's parent once their package is imported
custom_imports = dict(imports=['simvtp', 'mmaction.models'],
                      allow_failed_imports=False)
pretrained = '{{$SIMVTP_PRETRAINED:work_dirs/pretrain_vitb/epoch_200.pth}}'
model = dict(backbone=dict(init_cfg=dict(checkpoint=pretrained)))

dataset_type = 'VideoDataset'
data_root = 'data/kinetics400/videos_train'
data_root_val = 'data/kinetics400/videos_val'
ann_file_train = 'data/kinetics400/kinetics400_train_list_videos.txt'
ann_file_val = 'data/kinetics400/kinetics400_val_list_videos.txt'

train_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=16, frame_interval=4, num_clips=1),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='RandomResizedCrop', area_range=(0.08, 1.0)),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='VideoRandAugment', num_ops=4, magnitude=7, magnitude_std=0.5,
         increasing=True),
    dict(type='VideoRandomErasing', erase_prob=0.25, mode='pixel',
         max_count=1),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
val_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=16, frame_interval=4, num_clips=1,
         test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
test_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=16, frame_interval=4, num_clips=5,
         test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='ThreeCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]

train_dataloader = dict(
    batch_size=8, num_workers=8, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True), drop_last=True,
    dataset=dict(type=dataset_type, ann_file=ann_file_train,
                 data_prefix=dict(video=data_root),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8, num_workers=8, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, ann_file=ann_file_val,
                 data_prefix=dict(video=data_root_val),
                 pipeline=val_pipeline, test_mode=True))
test_dataloader = dict(
    batch_size=1, num_workers=8, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, ann_file=ann_file_val,
                 data_prefix=dict(video=data_root_val),
                 pipeline=test_pipeline, test_mode=True))
val_evaluator = dict(type='AccMetric')
test_evaluator = dict(type='AccMetric')

# 8 clips x 64 GPUs in VideoMAE; --auto-scale-lr rescales for yours
auto_scale_lr = dict(enable=False, base_batch_size=512)
default_hooks = dict(
    checkpoint=dict(interval=5, max_keep_ckpts=3, save_best='acc/top1',
                    rule='greater'),
    logger=dict(interval=100))
