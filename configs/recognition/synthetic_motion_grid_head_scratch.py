# synthetic_motion_grid_head.py from random initialisation: the same model,
# data, schedule and budget, no pre-trained weights.
#   python tools/train.py \
#       configs/recognition/synthetic_motion_grid_head_scratch.py
_base_ = ['./synthetic_motion_grid_head.py']

model = dict(backbone=dict(init_cfg=None))
