# LSMDC multiple choice (LSMDC-MC; ClipBERT-style JSON lines):
# multiple choice through the pre-trained VTM head, each
# option as [video ; question + option], CE over the options (paper Table 3).
#   python tools/train.py configs/vqa/lsmdc_mc.py
#   python tools/test.py configs/vqa/lsmdc_mc.py work_dirs/lsmdc_mc/best_*.pth
# Videos: data/lsmdc/videos (mp4); annotations in data/lsmdc/annotations.
_base_ = '../_base_/vqa_multiple_choice_vitb.py'
data_root = 'data/lsmdc'
dataset = dict(
    layout='jsonl_mc', data_prefix=dict(video=data_root + '/videos'))
train_dataloader = dict(dataset=dict(
    dataset, ann_file=data_root + '/annotations/lsmdc_mc_train.jsonl'))
val_dataloader = dict(dataset=dict(
    dataset, ann_file=data_root + '/annotations/lsmdc_mc_test.jsonl'))
test_dataloader = val_dataloader
