# The embedded action-recognition default: motion classification of
# one-object synthetic clips with mmaction2's Recognizer3D, the simvtp
# encoder as its backbone, fine-tuned from the synthetic pre-training.
#   python tools/train.py configs/simvtp/pretrain_synthetic.py   # first
#   python tools/train.py configs/recognition/synthetic_motion.py
# The 8 classes are the generator's motions (moves left / right / up / down,
# grows, shrinks, rotates, stays still; chance 12.5%); data/synthetic_action
# (1000 train / 200 val / 400 test clips, balanced) is generated on first
# use. Another checkpoint: SIMVTP_PRETRAINED=/path/epoch_4.pth python ...
# Same budget from random init: synthetic_motion_scratch.py.
_base_ = ['../_base_/default_runtime.py']
# mmaction2's recognisers, heads and preprocessors are found by bare name
# through the simvtp registry's parent once their package is imported
custom_imports = dict(imports=['simvtp', 'mmaction.models'],
                      allow_failed_imports=False)

data_root = 'data/synthetic_action'
synthetic_action_data = dict(root=data_root, num_train=1000, num_val=200,
                             num_test=400, num_frames=32, fps=10, size=112,
                             seed=0)
pretrained = '{{$SIMVTP_PRETRAINED:work_dirs/pretrain_synthetic/epoch_4.pth}}'
num_classes = 8
# the pre-training clip: 8 frames at interval 4 (= the 32-frame clip),
# 64 px, 8 px patches, tubelet 2 -> a 4 x 8 x 8 token grid
num_frames = 8
frame_interval = 4
img_size = 64
patch_size = 8
tubelet_size = 2
embed_dims = 128
mean = [123.675, 116.28, 103.53]  # the pre-training's normalisation
std = [58.395, 57.12, 57.375]

model = dict(
    type='Recognizer3D',
    backbone=dict(
        type='UnifiedViT',
        arch=dict(embed_dims=embed_dims, num_layers=4, num_heads=4,
                  mlp_ratio=4),
        img_size=img_size, patch_size=patch_size, num_frames=num_frames,
        tubelet_size=tubelet_size,
        with_text=False,  # video-only: the text embeddings stay unused
        drop_path_rate=0.1,
        # the token map (4 x 8 x 8) averaged over 4 x 2 x 2 cells and
        # concatenated (B, 16 * 128): a pooled feature that keeps when and
        # roughly where the object is (the mean over all tokens,
        # 'avg_featmap', blurs which way it moved)
        out_type='grid_featmap',
        pool_grid=(None, 2, 2),
        fc_norm=True,
        init_cfg=dict(type='SimVTPPretrained', checkpoint=pretrained,
                      prefix_map={'backbone.': ''})),
    cls_head=dict(
        type='TimeSformerHead', num_classes=num_classes,
        in_channels=embed_dims * num_frames // tubelet_size * 2 * 2,
        label_smooth_eps=0.1, dropout_ratio=0.0, average_clips='prob'),
    data_preprocessor=dict(type='ActionDataPreprocessor', mean=mean,
                           std=std, format_shape='NCTHW'))

# no flips: they would turn "moves left" into "moves right"
train_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=num_frames,
         frame_interval=frame_interval, num_clips=1),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
test_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=num_frames,
         frame_interval=frame_interval, num_clips=1, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]


dataset = dict(type='VideoDataset', data_prefix=dict(video=data_root +
                                                    '/videos'))
train_dataloader = dict(
    batch_size=16, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True), drop_last=True,
    dataset=dict(dataset, ann_file=data_root + '/annotations/train_list.txt',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=50, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(dataset, ann_file=data_root + '/annotations/val_list.txt',
                 pipeline=test_pipeline, test_mode=True))
test_dataloader = dict(
    batch_size=50, num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(dataset, ann_file=data_root + '/annotations/test_list.txt',
                 pipeline=test_pipeline, test_mode=True))
val_evaluator = dict(type='AccMetric')
test_evaluator = dict(type='AccMetric')

max_epochs = 3
warmup_epochs = 0.5
base_lr = 5e-4
# the CPU budget has no room for validation passes: test once at the end
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_begin=1, val_interval=max_epochs + 1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
test_after_train = True

# VideoMAE's fine-tuning rule: layer-wise lr decay 0.75 over the encoder
# (embeddings scaled most), AdamW (0.9, 0.999), weight decay 0.05, none on
# biases / norms; warm-up then cosine to 1e-6. With ~190 steps the new
# linear head needs a larger lr than the encoder (x20: 1e-2, what a linear
# probe of the frozen features trains well with)
optim_wrapper = dict(
    constructor='LayerDecayOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=base_lr, betas=(0.9, 0.999),
                   weight_decay=0.05),
    paramwise_cfg=dict(layer_decay_rate=0.75, encoders=['backbone'],
                       custom_keys={'cls_head.': dict(lr_mult=20.0)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min=1e-6, by_epoch=True, begin=warmup_epochs, end=max_epochs,
         convert_to_iter_based=True),
]
auto_scale_lr = dict(enable=False, base_batch_size=16)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
