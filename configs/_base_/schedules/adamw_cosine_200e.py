# The paper's recipe: AdamW (0.9, 0.95), wd 0.05, lr 1.5e-4 x total batch /
# 256, 40 warm-up epochs of 200, cosine to 1e-5 (scaled alike), per iteration.
max_epochs = 200
warmup_epochs = 40
base_lr = 1.5e-4
min_lr = 1e-5

optim_wrapper = dict(
    # bf16 autocast (the reference trains in FP32): losses agree within 1e-3
    # (benchmark_train.py's check) at about twice the speed
    type='AmpOptimWrapper',
    dtype='bfloat16',
    optimizer=dict(type='AdamW', lr=base_lr, betas=(0.9, 0.95),
                   weight_decay=0.05),
    # no decay for biases, norms, 1-D parameters, positions and mask tokens
    paramwise_cfg=dict(
        norm_decay_mult=0.0, bias_decay_mult=0.0, flat_decay_mult=0.0,
        custom_keys={
            'mask_token': dict(decay_mult=0.0),
            'pos_embed': dict(decay_mult=0.0),
            'logit_scale': dict(decay_mult=0.0),
        }))

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min_ratio=min_lr / base_lr, by_epoch=True, begin=warmup_epochs,
         end=max_epochs, convert_to_iter_based=True),
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_interval=max_epochs + 1)
# lr above is for a total batch of 256: enable with --auto-scale-lr
auto_scale_lr = dict(enable=False, base_batch_size=256)
