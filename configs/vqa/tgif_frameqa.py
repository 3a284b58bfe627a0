# TGIF-QA FrameQA (TGIF-FrameQA; types object/number/color/location):
# open-ended QA as classification, [video ; question] pooled
# -> MLP (2x width) -> the 1,500 most frequent TRAINING answers; test
# answers outside them count as wrong (paper Table 3, ClipBERT's protocol).
#   python tools/train.py configs/vqa/tgif_frameqa.py
#   python tools/test.py configs/vqa/tgif_frameqa.py work_dirs/tgif_frameqa/best_*.pth
# Videos: data/tgif_qa/videos (mp4); annotations in data/tgif_qa/annotations.
_base_ = '../_base_/vqa_open_ended_vitb.py'
data_root = 'data/tgif_qa'
answer_vocab = dict(
    ann_file=data_root + '/annotations/Train_frameqa_question.tsv',
    layout='tgif_frameqa',
    top_k=1500)
model = dict(answer_vocab=answer_vocab)
dataset = dict(
    layout='tgif_frameqa', answer_vocab=answer_vocab, question_type='field',
    data_prefix=dict(video=data_root + '/videos'))
train_dataloader = dict(dataset=dict(
    dataset, ann_file=data_root + '/annotations/Train_frameqa_question.tsv'))
val_dataloader = dict(dataset=dict(
    dataset, ann_file=data_root + '/annotations/Test_frameqa_question.tsv'))
test_dataloader = val_dataloader
