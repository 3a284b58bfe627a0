# The authors' MSR-VTT fine-tuning schedule: batch 64 (8 GPUs x 8), 100
# epochs, AdamW (0.9, 0.999), weight decay 0.05, lr 3e-4 x batch / 256,
# 5 warm-up epochs, cosine to 1e-6 x batch / 256, layer decay 0.75 (which
# their code sets but never applies; here it applies).
max_epochs = 100
warmup_epochs = 5
base_lr = 3e-4 * 64 / 256
min_lr = 1e-6 * 64 / 256
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='LayerDecayOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=base_lr, betas=(0.9, 0.999),
                   weight_decay=0.05),
    paramwise_cfg=dict(layer_decay_rate=0.75,
                       encoders=['video_encoder', 'text_encoder']))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min=min_lr, by_epoch=True, begin=warmup_epochs, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# --auto-scale-lr rescales lr (and the floor) to another total batch
auto_scale_lr = dict(enable=False, base_batch_size=64)
