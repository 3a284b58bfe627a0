# The embedded multiple-choice default: the pre-trained synthetic SimVTP
# fine-tuned to pick the true caption of a clip among 5 whose distractors
# each change one attribute (colour, shape or motion) of one object.
#   python tools/train.py configs/simvtp/pretrain_synthetic.py   # first
#   python tools/train.py configs/vqa/mc_synthetic.py
#   python tools/test.py configs/vqa/mc_synthetic.py \
#       work_dirs/mc_synthetic/epoch_2.pth
# On first use this generates data/synthetic_qa/ (1,500 train / 500 test
# clips from their own random stream; ~30 s). Every option goes through the
# encoder as [video ; option] and is scored by the pre-trained VTM head.
# Another checkpoint: SIMVTP_PRETRAINED=/path/epoch_14.pth python ...
_base_ = ['../_base_/default_runtime.py']

synthetic_data = dict(root='data/synthetic', num_train=2000, num_val=128,
                      num_test=256, num_frames=32, fps=10, size=112, seed=0)
data_root = 'data/synthetic_qa'
vocab_size = 256  # the pre-trained text embedding table
synthetic_qa_data = dict(root=data_root,
                         base_tokenizer='data/synthetic/tokenizer',
                         num_train=1500, num_val=0, num_test=500,
                         num_frames=32, fps=10, size=112, seed=0,
                         num_options=5, max_vocab_size=vocab_size)
# the pre-training vocabulary plus the question words (same ids)
tokenizer = data_root + '/tokenizer'
pretrained = '{{$SIMVTP_PRETRAINED:work_dirs/pretrain_synthetic/epoch_14.pth}}'

# the pre-training geometry (configs/simvtp/pretrain_synthetic.py)
embed_dims = 128
num_frames = 8
frame_interval = 4
img_size = 64
patch_size = 8
video_mask_ratio = 0.75  # in training (pre-training's ratio)
text_max_len = 32  # = the encoder's text positions: no caption is cut

model = dict(
    type='VideoQAMultipleChoice',
    backbone=dict(
        type='UnifiedViT',
        arch=dict(embed_dims=embed_dims, num_layers=4, num_heads=4,
                  mlp_ratio=4),
        img_size=img_size, patch_size=patch_size, num_frames=num_frames,
        vocab_size=vocab_size, max_text_len=32, drop_path_rate=0.1,
        skip_padding=True),
    vtm_head=dict(type='VTMHead', embed_dims=embed_dims),
    pooling='mean',  # as pre-training's VTM
    data_preprocessor=dict(type='VideoTextDataPreprocessor'),
    # encoder and VTM head from pre-training; a missing file raises and
    # says how to make it
    init_cfg=dict(type='SimVTPPretrained', checkpoint=pretrained,
                  prefix_map={'backbone.': 'backbone.',
                              'vtm_head.': 'vtm_head.'}))

# No augmentation: the answers are colours, shapes, motions and object
# counts, which RandAugment's colour operations, crops (objects leave the
# frame) and flips (left <-> right) would change.
train_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=num_frames,
         frame_interval=frame_interval, num_clips=1),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    # train on a random quarter of the tubes, as pre-training's VTM saw
    # them: ~4x cheaper on the CPU; the test sees every tube
    dict(type='TubeMasking', mask_ratio=video_mask_ratio, tubelet_size=2,
         patch_size=patch_size),
    # a list of K option texts -> (K, L) ids
    dict(type='TokenizeText', tokenizer=tokenizer, max_length=text_max_len),
    dict(type='PackVideoQAInputs', label_key='label'),
]
test_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=num_frames,
         frame_interval=frame_interval, num_clips=1, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='TokenizeText', tokenizer=tokenizer, max_length=text_max_len),
    dict(type='PackVideoQAInputs', label_key='label'),
]

dataset = dict(type='MultipleChoiceQADataset', layout='mmaction_mc',
               data_prefix=dict(video=data_root + '/videos'))
train_dataloader = dict(
    batch_size=16, num_workers=1, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(dataset, ann_file=data_root + '/annotations/mc_train.json',
                 # the first 1,000 clips: the 10-minute budget
                 indices=1000,
                 pipeline=train_pipeline))
test_dataloader = dict(
    batch_size=32, num_workers=1,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(dataset, ann_file=data_root + '/annotations/mc_test.json',
                 pipeline=test_pipeline, test_mode=True))
# mmaction2's multiple-choice accuracy (pred_label == gt_label)
test_evaluator = dict(type='VQAMCACC')
test_cfg = dict(type='TestLoop')
test_after_train = True

max_epochs = 2
warmup_epochs = 0.5
base_lr = 1e-4
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='LayerDecayOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=base_lr, betas=(0.9, 0.999),
                   weight_decay=0.05),
    paramwise_cfg=dict(layer_decay_rate=0.75, encoders=['backbone']))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min_ratio=1e-2, by_epoch=True, begin=warmup_epochs,
         end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_interval=max_epochs + 1)
default_hooks = dict(logger=dict(interval=20),
                     checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
