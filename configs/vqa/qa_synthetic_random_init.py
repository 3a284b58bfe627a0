# The random-initialisation baseline of configs/vqa/qa_synthetic.py: the
# same model, data and budget, with the encoder initialised from scratch.
#   python tools/train.py configs/vqa/qa_synthetic_random_init.py
_base_ = ['./qa_synthetic.py']

model = dict(init_cfg=None)
