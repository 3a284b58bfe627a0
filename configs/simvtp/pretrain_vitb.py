# SimVTP ViT-B/16 pre-training on WebVid-2M (the paper's recipe).
#   tools/dist_train.sh configs/simvtp/pretrain_vitb.py 8 --auto-scale-lr
# Initialisation: VideoMAE K400 ViT-B for encoder + video decoder (convert
# it to simvtp keys and set load_from / model.init_cfg), bert-base-uncased
# for the tokenizer (a local folder or the HF cache; never downloaded).
_base_ = [
    '../_base_/models/simvtp_vitb.py',
    '../_base_/datasets/webvid_pretrain.py',
    '../_base_/schedules/adamw_cosine_200e.py',
    '../_base_/default_runtime.py',
]

# e.g. --cfg-options model.init_cfg.checkpoint=/path/videomae_k400_simvtp.pth
model = dict(init_cfg=None)
default_hooks = dict(checkpoint=dict(interval=5))
# the lr of the schedule is for a total batch of 256 (paper: 64 x 16 = 1024)
auto_scale_lr = dict(enable=True, base_batch_size=256)
