# The embedded multiple-choice default: pick the true caption of a clip
# among 5 whose distractors each change one attribute (colour, shape or
# motion) of one object, by the contrastive similarity of the pre-trained
# synthetic SimVTP, fine-tuned on the 1,500 training clips.
#   python tools/train.py configs/simvtp/pretrain_synthetic.py   # first
#   python tools/train.py configs/vqa/mc_synthetic.py
#   python tools/test.py configs/vqa/mc_synthetic.py \
#       work_dirs/mc_synthetic/epoch_4.pth
# Training is retrieval's contrastive loss with each clip's 4 distractor
# captions as extra negatives (model.in_batch_negatives): a clip is matched
# against all 160 option texts of its batch of 32, its true caption against
# the 32 clips. Scoring needs a video-only and a text-only pass, not a
# joint pass per option, so 10 minutes buy 4 epochs of all clips.
# Variants: configs/vqa/mc_synthetic_vtm.py (the paper's VTM scoring,
# fine-tuned), mc_synthetic_zero_shot.py (no MC training),
# mc_synthetic_random_init.py (this recipe from scratch).
# Another checkpoint: SIMVTP_PRETRAINED=/path/epoch_4.pth python ...
_base_ = ['./mc_synthetic_vtm.py']

model = dict(
    type='MatchingSimilarityMultipleChoice',
    backbone=dict(drop_path_rate=0.0),
    # the pre-training's contrastive head and grid-pooled video feature
    vtc_head=dict(type='VTCHead', embed_dims=128,
                  learnable_temperature=False, temperature=0.05),
    video_pool=dict(type='GridPoolProjection', grid=(4, 2, 2)),
    vtm_weight=0.0,  # similarity only: the VTM head is never run
    in_batch_negatives=True,
    init_cfg=dict(prefix_map={'backbone.': 'backbone.',
                              'vtc_head.': 'vtc_head.',
                              'video_pool.': 'video_pool.'}))
train_dataloader = dict(batch_size=32, num_workers=2, drop_last=True,
                        dataset=dict(indices=None))  # all 1,500 clips
test_evaluator = dict(_delete_=True, type='MultipleChoiceScoreAccuracy',
                      score_names=('sim', ))

# the synthetic pre-training's optimiser (as retrieval fine-tuning)
max_epochs = 4
warmup_epochs = 0.5
base_lr = 1e-3
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=base_lr, betas=(0.9, 0.95),
                   weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min_ratio=1e-2, by_epoch=True, begin=warmup_epochs,
         end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs + 1)
default_hooks = dict(checkpoint=dict(interval=max_epochs))
