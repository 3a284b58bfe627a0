# The embedded open-ended QA default: the pre-trained synthetic SimVTP
# fine-tuned to answer questions whose answer the clip determines: how many
# objects, the colour of the object that moves left (or of the square), the
# shape of the red object, what the red square does.
#   python tools/train.py configs/simvtp/pretrain_synthetic.py   # first
#   python tools/train.py configs/vqa/qa_synthetic.py
#   python tools/test.py configs/vqa/qa_synthetic.py \
#       work_dirs/qa_synthetic/epoch_2.pth
# On first use this generates data/synthetic_qa/ (1,500 train / 500 test
# clips from their own random stream, 4 questions a clip; ~30 s).
# [video ; question] goes through the encoder, is mean-pooled and classified
# over the answers of the training questions (ClipBERT's MLP classifier).
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

answer_vocab = dict(ann_file=data_root + '/annotations/qa_train.json',
                    layout='mmaction', top_k=1500)
model = dict(
    type='VideoQAClassifier',
    backbone=dict(
        type='UnifiedViT',
        arch=dict(embed_dims=embed_dims, num_layers=4, num_heads=4,
                  mlp_ratio=4),
        img_size=img_size, patch_size=patch_size, num_frames=num_frames,
        vocab_size=vocab_size, max_text_len=32, drop_path_rate=0.1,
        skip_padding=True),
    answer_vocab=answer_vocab,
    # Linear(D, 2D) - GELU - LayerNorm - Linear(2D, #answers)
    head=dict(type='QAClassifierHead', hidden_ratio=2.0, dropout=0.1),
    pooling='mean',
    data_preprocessor=dict(type='VideoTextDataPreprocessor'),
    # the encoder from pre-training (the classifier is new); a missing
    # file raises and says how to make it
    init_cfg=dict(type='SimVTPPretrained', checkpoint=pretrained,
                  prefix_map={'backbone.': 'backbone.'}))

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
    dict(type='TokenizeText', tokenizer=tokenizer, max_length=text_max_len),
    dict(type='PackVideoQAInputs', label_key='answer_label'),
]
test_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=num_frames,
         frame_interval=frame_interval, num_clips=1, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='TokenizeText', tokenizer=tokenizer, max_length=text_max_len),
    dict(type='PackVideoQAInputs', label_key='answer_label'),
]

dataset = dict(type='OpenEndedQADataset', layout='mmaction',
               answer_vocab=answer_vocab,
               data_prefix=dict(video=data_root + '/videos'))
train_dataloader = dict(
    batch_size=32, num_workers=1, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(dataset, ann_file=data_root + '/annotations/qa_train.json',
                 # the first 4,000 questions (1,000 clips): the 10-minute budget
                 indices=4000,
                 drop_unanswerable=True,
                 pipeline=train_pipeline))
test_dataloader = dict(
    batch_size=32, num_workers=1,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(dataset, ann_file=data_root + '/annotations/qa_test.json',
                 pipeline=test_pipeline, test_mode=True))
# exact-match accuracy, overall and per question type; questions whose
# answer is not in the (training) vocabulary count as wrong
test_evaluator = dict(type='OpenEndedQAAccuracy')
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
    # the classifier starts from scratch: 10x the base lr
    paramwise_cfg=dict(layer_decay_rate=0.75, encoders=['backbone'],
                       custom_keys={'head.': dict(lr_mult=10.0)}))
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
