# synthetic_motion.py from random initialisation: the same model (encoder,
# pooling neck, cosine head), data, schedule and budget; no pre-trained
# weights and random head rows instead of class-name text features (the
# baseline that the pre-training has to beat).
#   python tools/train.py configs/recognition/synthetic_motion_scratch.py
_base_ = ['./synthetic_motion.py']

model = dict(backbone=dict(init_cfg=None), neck=dict(init_cfg=None),
             cls_head=dict(text_init=None))
