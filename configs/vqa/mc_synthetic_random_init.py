# The random-initialisation baseline of configs/vqa/mc_synthetic.py: the
# same model, data and budget, with the encoder, contrastive head and video
# pooling initialised from scratch instead of from the pre-training
# checkpoint.
#   python tools/train.py configs/vqa/mc_synthetic_random_init.py
_base_ = ['./mc_synthetic.py']

model = dict(init_cfg=None)
