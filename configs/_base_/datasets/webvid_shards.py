# WebVid-2M (or any annotation) packed into WebDataset tar shards by
#   python tools/data/make_shards.py results_2M_train.csv VIDEOS data/webvid/shards
# and streamed by WebVidShardDataset: shards split across ranks and
# dataloader workers (each sample once per epoch), a shuffle buffer per
# worker, decoding from memory with the file pipeline of webvid_pretrain.py
# (its DecordInit runs as DecordInitBytes: same frames). The stream never
# ends (repeat=True): train with an iteration-based loop, see
# configs/simvtp/pretrain_vitb_shards.py; len() is the nominal epoch.
_base_ = ['./webvid_pretrain.py']

shard_manifest = 'data/webvid/shards/manifest.json'

train_dataloader = dict(
    sampler=None,  # an IterableDataset splits the data itself
    dataset=dict(
        _delete_=True,
        type='WebVidShardDataset',
        manifest=shard_manifest,
        # per worker: ~shuffle_buffer x 2.5 MB (WebVid videos) of memory;
        # make_shards.py already shuffles videos across shards
        shuffle_buffer=100,
        shuffle_initial=20,
        seed=0,
        repeat=True,
        pipeline={{_base_.train_pipeline}}))
