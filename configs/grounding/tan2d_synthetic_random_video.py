# Control for configs/grounding/tan2d_synthetic.py: the same 2D-TAN and
# query encoder, but video features from the same encoder at its random
# initialisation (seed 0) instead of the pre-trained one. The gap between
# the two test results is what pre-training brings to the video features.
#   python tools/train.py configs/grounding/tan2d_synthetic_random_video.py
_base_ = ['./tan2d_synthetic.py']

feature_file = 'data/synthetic_grounding/features/random_init.hdf5'
feature_extraction = dict(checkpoint=None, seed=0, out=feature_file)
train_dataloader = dict(dataset=dict(feature_file=feature_file))
val_dataloader = dict(dataset=dict(feature_file=feature_file))
test_dataloader = dict(dataset=dict(feature_file=feature_file))
