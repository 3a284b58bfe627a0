# synthetic_motion.py with a fresh linear head on grid-pooled tokens instead
# of the pre-training's pooled feature and the text-initialised head: what
# an mmaction2 user would write for a new encoder (only the encoder comes
# from the pre-training). The token map (4 x 8 x 8) is averaged over 4 x 2 x
# 2 cells and concatenated (B, 16 * 128), a post-pool LayerNorm per cell,
# then TimeSformerHead's linear layer: a pooled feature that keeps when and
# roughly where the object is (the mean over all tokens, 'avg_featmap',
# blurs which way it moved).
#   python tools/train.py configs/recognition/synthetic_motion_grid_head.py
# Same budget from random init: synthetic_motion_grid_head_scratch.py.
_base_ = ['./synthetic_motion.py']

model = dict(
    backbone=dict(out_type='grid_featmap', pool_grid=(None, 2, 2),
                  fc_norm=True),
    neck=None,
    cls_head=dict(
        _delete_=True, type='TimeSformerHead',
        num_classes=8,
        in_channels=128 * 4 * 2 * 2,  # width x (4, 2, 2) cells
        label_smooth_eps=0.1, dropout_ratio=0.0, average_clips='prob'))
# with ~190 steps the new linear head needs a larger lr than the encoder
# (x20: 1e-2, what a linear probe of the frozen features trains well with)
optim_wrapper = dict(paramwise_cfg=dict(
    custom_keys={'cls_head.': dict(lr_mult=20.0)}))
