# LSMDC retrieval (~101k train clips, 1,000 test clips, one caption each) in
# the layout of VindLU / Unmasked Teacher: JSON lists of {"video":
# "<movie>/<clip>.avi", "caption": str}. No val split: 1,000 held-out
# training clips select the checkpoint.
_base_ = ['finetune_msrvtt_9k.py']

data_root = 'data/lsmdc'
ann = data_root + '/annotations/lsmdc_ret_{}.json'
video = dict(video=data_root + '/videos')
held = dict(num_videos=1000, seed=0)
train_dataloader = dict(dataset=dict(dataset=dict(
    ann_file=ann.format('train'), data_prefix=video,
    holdout=dict(held, part='train'))))
val_dataloader = dict(dataset=dict(dataset=dict(
    ann_file=ann.format('train'), data_prefix=video,
    holdout=dict(held, part='val'))))
test_dataloader = dict(dataset=dict(dataset=dict(
    ann_file=ann.format('test_1000'), data_prefix=video)))
