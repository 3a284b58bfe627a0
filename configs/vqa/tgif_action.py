# TGIF-QA Action (TGIF-Action):
# multiple choice through the pre-trained VTM head, each
# option as [video ; question + option], CE over the options (paper Table 3).
#   python tools/train.py configs/vqa/tgif_action.py
#   python tools/test.py configs/vqa/tgif_action.py work_dirs/tgif_action/best_*.pth
# Videos: data/tgif_qa/videos (mp4); annotations in data/tgif_qa/annotations.
_base_ = '../_base_/vqa_multiple_choice_vitb.py'
data_root = 'data/tgif_qa'
dataset = dict(
    layout='tgif_mc', data_prefix=dict(video=data_root + '/videos'))
train_dataloader = dict(dataset=dict(
    dataset, ann_file=data_root + '/annotations/Train_action_question.tsv'))
val_dataloader = dict(dataset=dict(
    dataset, ann_file=data_root + '/annotations/Test_action_question.tsv'))
test_dataloader = val_dataloader
