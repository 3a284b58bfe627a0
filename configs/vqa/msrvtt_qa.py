# MSRVTT-QA (mmaction2 MSRVTTVQA layout; types what/who/how/where/when):
# open-ended QA as classification, [video ; question] pooled
# -> MLP (2x width) -> the 1,500 most frequent TRAINING answers; test
# answers outside them count as wrong (paper Table 3, ClipBERT's protocol).
#   python tools/train.py configs/vqa/msrvtt_qa.py
#   python tools/test.py configs/vqa/msrvtt_qa.py work_dirs/msrvtt_qa/best_*.pth
# Videos: data/msrvtt/videos (mp4); annotations in data/msrvtt/annotations.
_base_ = '../_base_/vqa_open_ended_vitb.py'
data_root = 'data/msrvtt'
answer_vocab = dict(
    ann_file=data_root + '/annotations/msrvtt_qa_train.json',
    layout='mmaction',
    top_k=1500,
    answer_list=data_root + '/annotations/msrvtt_qa_answer_list.json')
model = dict(answer_vocab=answer_vocab)
dataset = dict(
    layout='mmaction', answer_vocab=answer_vocab, question_type='first_word',
    data_prefix=dict(video=data_root + '/videos'))
train_dataloader = dict(dataset=dict(
    dataset, ann_file=data_root + '/annotations/msrvtt_qa_train.json'))
val_dataloader = dict(dataset=dict(
    dataset, ann_file=data_root + '/annotations/msrvtt_qa_test.json'))
test_dataloader = val_dataloader
