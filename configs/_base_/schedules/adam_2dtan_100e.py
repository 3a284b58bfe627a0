# 2D-TAN's optimisation: Adam lr 1e-4 (betas 0.9/0.999, no weight decay),
# gradient norm clipped at 10, up to 100 epochs, lr x 0.8 after 20
# evaluations without improvement. 2D-TAN steps its plateau scheduler on
# the validation loss; mmengine's ReduceOnPlateauLR reads a validation
# metric, so R1@IoU0.5 is monitored instead.
max_epochs = 100
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-4, betas=(0.9, 0.999),
                   weight_decay=0.0),
    clip_grad=dict(max_norm=10))
param_scheduler = [
    dict(type='ReduceOnPlateauLR', monitor='grounding/R1@IoU0.5',
         rule='greater', factor=0.8, patience=20, by_epoch=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
