# MSVD retrieval (1,200 train / 100 val / 670 test videos, ~40 captions
# each) in the annotation layout of VindLU / Unmasked Teacher: JSON lists of
# {"video": "<name>.avi", "caption": [str, ...]}. Selection on val.
_base_ = ['finetune_msrvtt_9k.py']

data_root = 'data/msvd'
ann = data_root + '/annotations/msvd_ret_{}.json'
video = dict(video=data_root + '/videos')
train_dataloader = dict(dataset=dict(dataset=dict(
    ann_file=ann.format('train'), data_prefix=video, holdout=None)))
val_dataloader = dict(dataset=dict(dataset=dict(
    ann_file=ann.format('val'), data_prefix=video, holdout=None)))
test_dataloader = dict(dataset=dict(dataset=dict(
    ann_file=ann.format('test'), data_prefix=video)))
