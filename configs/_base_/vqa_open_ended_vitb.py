# Open-ended video QA as answer classification on the ViT-B recipe:
# [video ; question] pooled -> MLP (2x width) -> the most frequent TRAINING
# answers; test answers outside them count as wrong (ClipBERT's protocol).
_base_ = ['./vqa_vitb_finetune.py', './default_runtime.py']
# children set: answer_vocab (also in both datasets), the layout, the
# question_type, the video folder and the annotation files
answer_vocab = dict(top_k=1500)
model = dict(
    type='VideoQAClassifier',
    backbone={{_base_.vitb_backbone}},
    answer_vocab=answer_vocab,
    head=dict(type='QAClassifierHead', hidden_ratio=2.0, dropout=0.1),
    data_preprocessor=dict(type='VideoTextDataPreprocessor'),
    init_cfg={{_base_.backbone_init}})
# the classifier is new: 10x the base lr
optim_wrapper = dict(paramwise_cfg=dict(
    custom_keys={'head.': dict(lr_mult=10.0)}))
dataset = dict(type='OpenEndedQADataset', answer_vocab=answer_vocab)
train_dataloader = dict(
    batch_size=8, num_workers=8, persistent_workers=True,
    collate_fn=dict(type='pseudo_collate'),
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        dataset,
        drop_unanswerable=True,
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
# exact match, overall and per question type; OOV answers count as wrong
val_evaluator = dict(type='OpenEndedQAAccuracy')
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=1,
                                     save_best='auto'))
