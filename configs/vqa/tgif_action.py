# TGIF-QA Action (TGIF-Action):
# multiple choice through the pre-trained VTM head, each
# option as [video ; question + option], CE over the options (paper Table 3).
#   python tools/train.py configs/vqa/tgif_action.py
#   python tools/test.py configs/vqa/tgif_action.py work_dirs/tgif_action/best_*.pth
# Videos: data/tgif_qa/videos (mp4); annotations in data/tgif_qa/annotations.
_base_ = [
    '../_base_/vqa_vitb_finetune.py',
    '../_base_/default_runtime.py',
]
data_root = 'data/tgif_qa'

model = dict(
    type='VideoQAMultipleChoice',
    backbone={{_base_.vitb_backbone}},
    vtm_head=dict(type='VTMHead', embed_dims=768),
    data_preprocessor=dict(type='VideoTextDataPreprocessor'),
    init_cfg=dict(type='SimVTPPretrained',
                  checkpoint={{_base_.pretrained}},
                  prefix_map={'backbone.': 'backbone.',
                              'vtm_head.': 'vtm_head.'}))
dataset = dict(type='MultipleChoiceQADataset', layout='tgif_mc',
               data_prefix=dict(video=data_root + '/videos'))
train_dataloader = dict(
    batch_size=8, num_workers=8, persistent_workers=True,
    collate_fn=dict(type='pseudo_collate'),
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        dataset,
        ann_file=data_root + '/annotations/Train_action_question.tsv',
                 pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(
    batch_size=8, num_workers=8, persistent_workers=True,
    collate_fn=dict(type='pseudo_collate'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        dataset,
        ann_file=data_root + '/annotations/Test_action_question.tsv',
                 pipeline={{_base_.test_pipeline}},
                 test_mode=True))
test_dataloader = val_dataloader
# mmaction2's multiple-choice accuracy
val_evaluator = dict(type='VQAMCACC')
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=1,
                                     save_best='auto'))
