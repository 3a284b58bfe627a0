# The paper's multiple-choice model on the synthetic 5-option captions: the
# pre-trained synthetic SimVTP fine-tuned to pick the true caption of a clip
# among 5 whose distractors each change one attribute (colour, shape or
# motion) of one object, every option scored by the VTM head.
#   python tools/train.py configs/simvtp/pretrain_synthetic.py   # first
#   python tools/train.py configs/vqa/mc_synthetic_vtm.py
#   python tools/test.py configs/vqa/mc_synthetic_vtm.py \
#       work_dirs/mc_synthetic_vtm/epoch_1.pth
# It stays near chance here (15.8%; README, "Video question answering"): a
# joint pass per option costs ~5x a retrieval step, so 10 minutes buy 60
# steps of 8 clips, too few to teach the VTM head the one-attribute
# differences its pre-training (random negatives) never showed it. The
# embedded default, configs/vqa/mc_synthetic.py, trains the contrastive
# similarity instead.
# On first use this generates data/synthetic_qa/ (1,500 train / 500 test
# clips from their own random stream; ~30 s). Every option goes through the
# encoder as [video ; option] with the whole clip and is scored by the
# pre-trained VTM head on the option's tokens, as the pre-training matched
# whole clips and captions (model.vtm_input / vtm_pooling there).
# Without training: configs/vqa/mc_synthetic_zero_shot.py
# Another checkpoint: SIMVTP_PRETRAINED=/path/epoch_4.pth python ...
_base_ = [
    '../_base_/datasets/synthetic_qa.py',
    '../_base_/default_runtime.py',
]

pretrained = '{{$SIMVTP_PRETRAINED:work_dirs/pretrain_synthetic/epoch_4.pth}}'

model = dict(
    type='VideoQAMultipleChoice',
    backbone=dict(
        type='UnifiedViT',
        # the pre-trained geometry (configs/simvtp/pretrain_synthetic.py)
        arch=dict(embed_dims=128, num_layers=4, num_heads=4, mlp_ratio=4),
        img_size=64, patch_size=8, num_frames=8, vocab_size=256,
        max_text_len=32, drop_path_rate=0.1,
        skip_padding=True),
    vtm_head=dict(type='VTMHead', embed_dims=128),
    pooling='text',  # as pre-training's VTM (model.vtm_pooling)
    data_preprocessor=dict(type='VideoTextDataPreprocessor'),
    # encoder and VTM head from pre-training; a missing file raises and
    # says how to make it
    init_cfg=dict(type='SimVTPPretrained', checkpoint=pretrained,
                  prefix_map={'backbone.': 'backbone.',
                              'vtm_head.': 'vtm_head.'}))

dataset = dict(type='MultipleChoiceQADataset', layout='mmaction_mc',
               data_prefix=dict(video='data/synthetic_qa/videos'))
train_dataloader = dict(
    batch_size=8, num_workers=1, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(dataset, ann_file='data/synthetic_qa/annotations/mc_train.json',
                 # the first 480 clips, seen once: the 10-minute budget
                 indices=480,
                 pipeline={{_base_.train_pipeline}}))
test_dataloader = dict(
    batch_size=32, num_workers=1,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(dataset, ann_file='data/synthetic_qa/annotations/mc_test.json',
                 pipeline={{_base_.test_pipeline}}, test_mode=True))
# mmaction2's multiple-choice accuracy (pred_label == gt_label)
test_evaluator = dict(type='VQAMCACC')
test_cfg = dict(type='TestLoop')
test_after_train = True

# 60 steps of 8 clips; 5e-4 (half pre-training's peak) with layer decay:
# 1e-4 barely moved the pre-trained weights in so few steps
max_epochs = 1
warmup_epochs = 0.2
base_lr = 5e-4
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
default_hooks = dict(logger=dict(interval=5),
                     checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
