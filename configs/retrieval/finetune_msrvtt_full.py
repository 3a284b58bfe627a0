# MSR-VTT full split (6,513 train / 497 validate / 2,990 test videos, 20
# captions each) in the original train_val_videodatainfo.json /
# test_videodatainfo.json. Each test caption is ranked against the 2,990
# videos (each decoded once); video-to-text counts a video's best caption.
# Selection on the official validate split.
_base_ = ['finetune_msrvtt_9k.py']

data_root = 'data/msrvtt'
train_val = data_root + '/annotations/train_val_videodatainfo.json'
train_dataloader = dict(dataset=dict(dataset=dict(
    ann_file=train_val, split='train', holdout=None)))
val_dataloader = dict(dataset=dict(dataset=dict(
    ann_file=train_val, split='validate', holdout=None)))
test_dataloader = dict(dataset=dict(dataset=dict(
    ann_file=data_root + '/annotations/test_videodatainfo.json',
    split='test')))
