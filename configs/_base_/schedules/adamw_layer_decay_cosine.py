# VideoMAE's fine-tuning optimiser: AdamW (0.9, 0.999), weight decay 0.05
# (none on biases, norms, q/v biases), layer-wise lr decay 0.75 over the
# encoder, linear warm-up then cosine to 1e-6. Children set max_epochs /
# warmup_epochs / base_lr and rewrite param_scheduler with them.
max_epochs = 100
warmup_epochs = 5
base_lr = 2e-3
min_lr = 1e-6

optim_wrapper = dict(
    constructor='LayerDecayOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=base_lr, betas=(0.9, 0.999),
                   weight_decay=0.05),
    paramwise_cfg=dict(layer_decay_rate=0.75, encoders=['backbone']))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min=min_lr, by_epoch=True, begin=warmup_epochs, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_begin=1, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
