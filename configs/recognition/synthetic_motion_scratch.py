# synthetic_motion.py from random initialisation: the same model, data,
# schedule and budget, no pre-trained weights (the baseline that the
# pre-training has to beat).
#   python tools/train.py configs/recognition/synthetic_motion_scratch.py
_base_ = ['./synthetic_motion.py']

model = dict(backbone=dict(init_cfg=None))
