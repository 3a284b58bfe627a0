# MSVD-QA (VindLU / Unmasked Teacher JSON layout; types by question word):
# open-ended QA as classification, [video ; question] pooled
# -> MLP (2x width) -> the 1,500 most frequent TRAINING answers; test
# answers outside them count as wrong (paper Table 3, ClipBERT's protocol).
#   python tools/train.py configs/vqa/msvd_qa.py
#   python tools/test.py configs/vqa/msvd_qa.py work_dirs/msvd_qa/best_*.pth
# Videos: data/msvd/videos (mp4); annotations in data/msvd/annotations.
_base_ = '../_base_/vqa_open_ended_vitb.py'
data_root = 'data/msvd'
answer_vocab = dict(
    ann_file=data_root + '/annotations/msvd_qa_train.json',
    layout='mmaction',
    top_k=1500)
model = dict(answer_vocab=answer_vocab)
dataset = dict(
    layout='mmaction', answer_vocab=answer_vocab, question_type='first_word',
    data_prefix=dict(video=data_root + '/videos'))
train_dataloader = dict(dataset=dict(
    dataset, ann_file=data_root + '/annotations/msvd_qa_train.json'))
val_dataloader = dict(dataset=dict(
    dataset, ann_file=data_root + '/annotations/msvd_qa_test.json'))
test_dataloader = val_dataloader
