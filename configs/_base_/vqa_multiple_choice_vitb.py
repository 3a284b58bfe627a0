# Multiple-choice video QA through the pre-trained VTM head on the ViT-B
# recipe: each option as [video ; question + option], CE over the options.
_base_ = ['./vqa_vitb_finetune.py', './default_runtime.py']
# children set: the layout, the video folder and the annotation files
model = dict(
    type='VideoQAMultipleChoice',
    backbone={{_base_.vitb_backbone}},
    vtm_head=dict(type='VTMHead', embed_dims=768),
    data_preprocessor=dict(type='VideoTextDataPreprocessor'),
    init_cfg=dict(type='SimVTPPretrained',
                  checkpoint={{_base_.pretrained}},
                  prefix_map={'backbone.': 'backbone.',
                              'vtm_head.': 'vtm_head.'}))
dataset = dict(type='MultipleChoiceQADataset')
train_dataloader = dict(
    batch_size=8, num_workers=8, persistent_workers=True,
    collate_fn=dict(type='pseudo_collate'),
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        dataset,
        pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(
    batch_size=8, num_workers=8, persistent_workers=True,
    collate_fn=dict(type='pseudo_collate'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        dataset,
        pipeline={{_base_.test_pipeline}},
        test_mode=True))
test_dataloader = val_dataloader
# mmaction2's multiple-choice accuracy
val_evaluator = dict(type='VQAMCACC')
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=1,
                                     save_best='auto'))
