# finetune_msrvtt_9k.py on mmaction2's MSRVTTRetrieval annotations
# (tools/data/msrvtt in mmaction2: train_9k.json / test_JSFUSION.json,
# lists of {"video": "video0.mp4", "caption": str | [str]}).
_base_ = ['finetune_msrvtt_9k.py']

data_root = 'data/video_retrieval/msrvtt'
video = dict(video=data_root + '/videos')
train_dataloader = dict(dataset=dict(dataset=dict(
    ann_file=data_root + '/train_9k.json', data_prefix=video)))
val_dataloader = dict(dataset=dict(dataset=dict(
    ann_file=data_root + '/train_9k.json', data_prefix=video)))
test_dataloader = dict(dataset=dict(dataset=dict(
    ann_file=data_root + '/test_JSFUSION.json', data_prefix=video)))
