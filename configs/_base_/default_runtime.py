default_scope = 'simvtp'
custom_imports = dict(imports=['simvtp'], allow_failed_imports=False)

default_hooks = dict(
    # the stock RuntimeInfoHook, minus its per-step .item() of every loss:
    # values are read once per logging interval (same logs)
    runtime_info=dict(type='LazyRuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, ignore_last=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # CheckpointHook whose saves a crash cannot corrupt (write to a
    # temporary, rename; move last_checkpoint; only then delete old files)
    checkpoint=dict(type='AtomicCheckpointHook', interval=1,
                    max_keep_ckpts=3, save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    sync_buffers=dict(type='SyncBuffersHook'))

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))

log_processor = dict(type='LogProcessor', window_size=20, by_epoch=True)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, diff_rank_seed=True)
