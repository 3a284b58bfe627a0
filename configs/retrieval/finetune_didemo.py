# DiDeMo paragraph-to-video retrieval (8,394 train / 1,065 val / 1,004 test
# videos): every sentence of a video's annotation is joined into one
# paragraph query (join_captions), as VindLU / Unmasked Teacher evaluate it.
# Layout: JSON lists of {"video": "<name>.mp4", "caption": [str, ...]}.
_base_ = ['finetune_msrvtt_9k.py']

data_root = 'data/didemo'
ann = data_root + '/annotations/didemo_ret_{}.json'
video = dict(video=data_root + '/videos')
# paragraphs are truncated at text_max_len = 64 tokens (as VindLU / UMT)
paragraph = dict(join_captions=' ')
train_dataloader = dict(dataset=dict(dataset=dict(
    ann_file=ann.format('train'), data_prefix=video, holdout=None,
    **paragraph)))
val_dataloader = dict(dataset=dict(dataset=dict(
    ann_file=ann.format('val'), data_prefix=video, holdout=None,
    **paragraph)))
test_dataloader = dict(dataset=dict(dataset=dict(
    ann_file=ann.format('test'), data_prefix=video, **paragraph)))
