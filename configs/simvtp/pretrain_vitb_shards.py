# SimVTP ViT-B/16 pre-training on WebVid-2M read from tar shards
# (configs/_base_/datasets/webvid_shards.py), iteration-based:
#   python tools/data/make_shards.py results_2M_train.csv VIDEOS data/webvid/shards
#   tools/dist_train.sh configs/simvtp/pretrain_vitb_shards.py 8 --auto-scale-lr
# Same model, optimiser and schedule as pretrain_vitb.py; the epoch-based
# warm-up/cosine are converted to iterations with the nominal epoch
# length (len(train_dataloader) = pairs / world size / batch).
_base_ = [
    '../_base_/models/simvtp_vitb.py',
    '../_base_/datasets/webvid_shards.py',
    '../_base_/schedules/adamw_cosine_200e.py',
    '../_base_/default_runtime.py',
]

# pairs in the shards (manifest.json: num_captions) and the total batch
# (GPUs x train_dataloader.batch_size): together they fix the run's length
train_pairs = 2_490_000
total_batch = 1024
# the resumable loop + StreamResumeHook: a resume skips the trained shards
# unread instead of decoding every trained batch again
train_cfg = dict(_delete_=True, type='ResumableIterBasedTrainLoop',
                 max_iters=200 * train_pairs // total_batch)
custom_hooks = [dict(type='StreamResumeHook')]

model = dict(init_cfg=None)
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=5000))
log_processor = dict(by_epoch=False)
auto_scale_lr = dict(enable=True, base_batch_size=256)
