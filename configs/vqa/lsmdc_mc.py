# LSMDC multiple choice (LSMDC-MC; ClipBERT-style JSON lines):
# multiple choice through the pre-trained VTM head, each
# option as [video ; question + option], CE over the options (paper Table 3).
#   python tools/train.py configs/vqa/lsmdc_mc.py
#   python tools/test.py configs/vqa/lsmdc_mc.py work_dirs/lsmdc_mc/best_*.pth
# Videos: data/lsmdc/videos (mp4); annotations in data/lsmdc/annotations.
_base_ = [
    '../_base_/vqa_vitb_finetune.py',
    '../_base_/default_runtime.py',
]
data_root = 'data/lsmdc'

model = dict(
    type='VideoQAMultipleChoice',
    backbone={{_base_.vitb_backbone}},
    vtm_head=dict(type='VTMHead', embed_dims=768),
    data_preprocessor=dict(type='VideoTextDataPreprocessor'),
    init_cfg=dict(type='SimVTPPretrained',
                  checkpoint={{_base_.pretrained}},
                  prefix_map={'backbone.': 'backbone.',
                              'vtm_head.': 'vtm_head.'}))
dataset = dict(type='MultipleChoiceQADataset', layout='jsonl_mc',
               data_prefix=dict(video=data_root + '/videos'))
train_dataloader = dict(
    batch_size=8, num_workers=8, persistent_workers=True,
    collate_fn=dict(type='pseudo_collate'),
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        dataset,
        ann_file=data_root + '/annotations/lsmdc_mc_train.jsonl',
                 pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(
    batch_size=8, num_workers=8, persistent_workers=True,
    collate_fn=dict(type='pseudo_collate'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        dataset,
        ann_file=data_root + '/annotations/lsmdc_mc_test.jsonl',
                 pipeline={{_base_.test_pipeline}},
                 test_mode=True))
test_dataloader = val_dataloader
# mmaction2's multiple-choice accuracy
val_evaluator = dict(type='VQAMCACC')
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=1,
                                     save_best='auto'))
