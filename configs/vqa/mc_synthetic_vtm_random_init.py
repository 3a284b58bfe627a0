# The random-initialisation baseline of configs/vqa/mc_synthetic_vtm.py.
#   python tools/train.py configs/vqa/mc_synthetic_vtm_random_init.py
_base_ = ['./mc_synthetic_vtm.py']

model = dict(init_cfg=None)
