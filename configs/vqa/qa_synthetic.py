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
# [video ; question] (every tube of the clip) goes through the encoder; the
# question's tokens are averaged and classified over the answers of the
# training questions (ClipBERT's MLP classifier).
# Another checkpoint: SIMVTP_PRETRAINED=/path/epoch_4.pth python ...
_base_ = [
    '../_base_/datasets/synthetic_qa.py',
    '../_base_/default_runtime.py',
]

pretrained = '{{$SIMVTP_PRETRAINED:work_dirs/pretrain_synthetic/epoch_4.pth}}'

answer_vocab = dict(ann_file='data/synthetic_qa/annotations/qa_train.json',
                    layout='mmaction', top_k=1500)
model = dict(
    type='VideoQAClassifier',
    backbone=dict(
        type='UnifiedViT',
        # the pre-trained geometry (configs/simvtp/pretrain_synthetic.py)
        arch=dict(embed_dims=128, num_layers=4, num_heads=4, mlp_ratio=4),
        img_size=64, patch_size=8, num_frames=8, vocab_size=256,
        max_text_len=32, drop_path_rate=0.1,
        skip_padding=True),
    answer_vocab=answer_vocab,
    # Linear(D, 2D) - GELU - LayerNorm - Linear(2D, #answers)
    head=dict(type='QAClassifierHead', hidden_ratio=2.0, dropout=0.1),
    # the mean of the question's tokens after the joint pass (they attended
    # to the clip). Pre-training's mean over all tokens lets ~250 video
    # tokens outweigh a 6-word question: fine-tuned with it, the classifier
    # answered motion questions with colours (motion 0.8%, shape 12%)
    pooling='text',
    # ... concatenated with the pre-training's grid-pooled video feature
    # (4 x 2 x 2 cell means of the joint pass's video outputs, projected):
    # the question tokens alone left motion and shape at chance (13.4 /
    # 24.2%); with it motion is 46.2% (README, "Video question answering")
    video_pool=dict(type='GridPoolProjection', grid=(4, 2, 2)),
    data_preprocessor=dict(type='VideoTextDataPreprocessor'),
    # the encoder and the video pooling from pre-training (the classifier
    # is new); a missing file raises and says how to make it
    init_cfg=dict(type='SimVTPPretrained', checkpoint=pretrained,
                  prefix_map={'backbone.': 'backbone.',
                              'video_pool.': 'video_pool.'}))

dataset = dict(type='OpenEndedQADataset', layout='mmaction',
               answer_vocab=answer_vocab,
               data_prefix=dict(video='data/synthetic_qa/videos'))
train_dataloader = dict(
    batch_size=32, num_workers=1, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(dataset, ann_file='data/synthetic_qa/annotations/qa_train.json',
                 # the first 2,000 questions (500 clips): the 10-minute budget
                 indices=2000,
                 drop_unanswerable=True,
                 pipeline={{_base_.train_pipeline}}))
test_dataloader = dict(
    batch_size=32, num_workers=1,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(dataset, ann_file='data/synthetic_qa/annotations/qa_test.json',
                 pipeline={{_base_.test_pipeline}}, test_mode=True))
# exact-match accuracy, overall and per question type; questions whose
# answer is not in the (training) vocabulary count as wrong
test_evaluator = dict(type='OpenEndedQAAccuracy')
test_cfg = dict(type='TestLoop')
test_after_train = True

# 2 x 63 steps of 32 questions; 3e-4 (the head 3e-3) with layer decay
max_epochs = 2
warmup_epochs = 0.5
base_lr = 3e-4
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
default_hooks = dict(logger=dict(interval=10),
                     checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
