# MSRVTT-QA (mmaction2 MSRVTTVQA layout; types what/who/how/where/when):
# open-ended QA as classification, [video ; question] pooled
# -> MLP (2x width) -> the 1,500 most frequent TRAINING answers; test
# answers outside them count as wrong (paper Table 3, ClipBERT's protocol).
#   python tools/train.py configs/vqa/msrvtt_qa.py
#   python tools/test.py configs/vqa/msrvtt_qa.py work_dirs/msrvtt_qa/best_*.pth
# Videos: data/msrvtt/videos (mp4); annotations in data/msrvtt/annotations.
_base_ = [
    '../_base_/vqa_vitb_finetune.py',
    '../_base_/default_runtime.py',
]
data_root = 'data/msrvtt'

answer_vocab = dict(ann_file=data_root + '/annotations/msrvtt_qa_train.json',
                    layout='mmaction', top_k=1500,
                    answer_list=data_root + '/annotations/msrvtt_qa_answer_list.json')
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
dataset = dict(type='OpenEndedQADataset', layout='mmaction',
               answer_vocab=answer_vocab, question_type='first_word',
               data_prefix=dict(video=data_root + '/videos'))
train_dataloader = dict(
    batch_size=8, num_workers=8, persistent_workers=True,
    collate_fn=dict(type='pseudo_collate'),
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        dataset,
        ann_file=data_root + '/annotations/msrvtt_qa_train.json',
                 drop_unanswerable=True,
                 pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(
    batch_size=8, num_workers=8, persistent_workers=True,
    collate_fn=dict(type='pseudo_collate'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        dataset,
        ann_file=data_root + '/annotations/msrvtt_qa_test.json',
                 pipeline={{_base_.test_pipeline}},
                 test_mode=True))
test_dataloader = val_dataloader
# exact match, overall and per question type; OOV answers count as wrong
val_evaluator = dict(type='OpenEndedQAAccuracy')
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=1,
                                     save_best='auto'))
