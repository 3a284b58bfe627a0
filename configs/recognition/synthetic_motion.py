# The embedded action-recognition default: few-shot motion classification
# of one-object synthetic clips with mmaction2's Recognizer3D, every part
# of which starts from the synthetic pre-training:
#   backbone  the simvtp encoder, video-only, its token map (out_type
#             'featmap', B x 128 x 4 x 8 x 8)
#   neck      the pre-training's own pooled video feature (video_pool: a
#             GridPoolProjection, the vector VTC aligned with captions)
#   cls_head  a cosine classifier whose rows start as the text features of
#             the class names written into caption-like prompts
# so the model before any step is the zero-shot classifier (60.0% top-1 on
# the test clips); fine-tuning then uses 4 labelled clips per class.
#   python tools/train.py configs/simvtp/pretrain_synthetic.py   # first
#   python tools/train.py configs/recognition/synthetic_motion.py
# The 8 classes are the generator's motions (moves left / right / up / down,
# grows, shrinks, rotates, stays still; chance 12.5%); data/synthetic_action
# (1000 train / 200 val / 400 test clips, balanced) is generated on first
# use. Another checkpoint: SIMVTP_PRETRAINED=/path/epoch_4.pth python ...
# The same model from random initialisation: synthetic_motion_scratch.py;
# a fresh linear head on grid-pooled tokens instead:
# synthetic_motion_grid_head.py.
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

# Prompts: the class name after an article, a colour and a shape, as the
# pre-training captions say it ("a red circle moves left"); the 80 prompts'
# text features are averaged per class (CLIP's prompt ensembling). For a
# real dataset: class_names = mmaction2's label map file, templates such
# as ['a video of a person {}.'].
colours = ['red', 'green', 'blue', 'yellow', 'purple', 'cyan', 'orange',
           'white']
shapes = ['circle', 'square', 'triangle', 'star', 'diamond']
templates = [f'{article} {colour} {shape} {{}}' for article in ('a', 'the')
             for colour in colours for shape in shapes]

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
        out_type='featmap',
        init_cfg=dict(type='SimVTPPretrained', checkpoint=pretrained,
                      prefix_map={'backbone.': ''})),
    neck=dict(
        type='VideoPoolNeck',
        # the pre-training's video_pool (configs/simvtp/pretrain_synthetic)
        pool=dict(type='GridPoolProjection', in_dims=embed_dims,
                  grid=(num_frames // tubelet_size, 2, 2)),
        init_cfg=dict(type='SimVTPPretrained', checkpoint=pretrained,
                      prefix_map={'video_pool.': 'pool.'})),
    cls_head=dict(
        type='TextPromptClsHead', num_classes=num_classes,
        in_channels=embed_dims,
        logit_scale=20.0,  # 1 / the pre-training's VTC temperature 0.05
        text_init=dict(checkpoint=pretrained,
                       class_names=data_root + '/annotations/classes.txt',
                       templates=templates),
        label_smooth_eps=0.1, average_clips='prob'),
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

# Few-shot fine-tuning (X-CLIP's protocol of K labelled clips per class):
# the train list labels clip i with motion i % 8 and draws each clip from
# its own seeded stream, so its first shots_per_class * 8 lines are a
# fixed, class-balanced subset (mmengine's dataset `indices`); val / test
# stay whole. Other label counts: --cfg-options
# train_dataloader.dataset.indices=128 (16 a class) or =None (all 1000
# clips); the schedule counts steps, so the budget stays the same. With all
# clips a random encoder learns the 8 motions within this budget too
# (README, "Action recognition"): labels, not the model, are what the
# pre-training saves.
shots_per_class = 4
batch_size = 16
# a fixed number of optimisation steps (~190, what 3 epochs over all 1000
# clips take), whatever the number of labelled clips
train_steps = 192
warmup_steps = 32

dataset = dict(type='VideoDataset',
               data_prefix=dict(video=data_root + '/videos'))
train_dataloader = dict(
    batch_size=batch_size, num_workers=2, persistent_workers=True,
    # endless shuffled passes: mmengine restarts an exhausted loader with a
    # 2 s pause, every 2 steps at 32 clips
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(dataset, ann_file=data_root + '/annotations/train_list.txt',
                 pipeline=train_pipeline,
                 indices=shots_per_class * num_classes))
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

base_lr = 5e-4
# the CPU budget has no room for validation passes: test once at the end
train_cfg = dict(type='IterBasedTrainLoop', max_iters=train_steps,
                 val_begin=1, val_interval=train_steps + 1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
test_after_train = True

# VideoMAE's fine-tuning rule: layer-wise lr decay 0.75 over the encoder
# (embeddings scaled most), AdamW (0.9, 0.999), weight decay 0.05, none on
# biases / norms; warm-up then cosine to 1e-6. The neck and the
# text-initialised head train at the base lr: they start where the
# pre-training left them.
optim_wrapper = dict(
    constructor='LayerDecayOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=base_lr, betas=(0.9, 0.999),
                   weight_decay=0.05),
    paramwise_cfg=dict(layer_decay_rate=0.75, encoders=['backbone']))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0,
         end=warmup_steps),
    dict(type='CosineAnnealingLR', T_max=train_steps - warmup_steps,
         eta_min=1e-6, by_epoch=False, begin=warmup_steps, end=train_steps),
]
auto_scale_lr = dict(enable=False, base_batch_size=16)
log_processor = dict(by_epoch=False)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(by_epoch=False, interval=train_steps, max_keep_ckpts=1))
