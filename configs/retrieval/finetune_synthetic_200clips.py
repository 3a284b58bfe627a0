# Retrieval fine-tuning with few labelled pairs: the first 200 of the 2,000
# synthetic training clips (10%), 25 epochs (150 steps of 32), as the paper's
# setting has far fewer fine-tuning pairs (MSR-VTT's 9k) than pre-training
# pairs (WebVid's 2.5M). With the full split (finetune_synthetic.py) the
# fine-tuning data are the pre-training data, and 310 steps of VTC on them
# teach a random encoder nearly what pre-training did.
#   python tools/train.py configs/simvtp/pretrain_synthetic.py   # first
#   python tools/train.py configs/retrieval/finetune_synthetic_200clips.py
#   python tools/train.py \
#       configs/retrieval/finetune_synthetic_200clips_scratch.py
_base_ = ['finetune_synthetic.py']

train_dataloader = dict(dataset=dict(dataset=dict(indices=200)))

max_epochs = 25
warmup_epochs = 1
base_lr = 1e-3
min_lr = 1e-5
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min_ratio=min_lr / base_lr, by_epoch=True, begin=warmup_epochs,
         end=max_epochs, convert_to_iter_based=True),
]
# an epoch is 6 steps: validate and keep a checkpoint every 5
train_cfg = dict(max_epochs=max_epochs, val_interval=5)
default_hooks = dict(checkpoint=dict(interval=5))
