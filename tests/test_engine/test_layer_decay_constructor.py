"""Layer-wise lr decay: groups read back from the built optimizer."""
import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.registry import init_default_scope

from simvtp.registry import MODELS, OPTIM_WRAPPER_CONSTRUCTORS
from tests.tiny_model import tiny_geometry


class TwoTowers(BaseModel):
    """Two tiny encoders plus a head, like a two-tower retriever."""

    def __init__(self):
        super().__init__()
        geo = tiny_geometry(layers=3)['backbone']
        self.video_encoder = MODELS.build(dict(type='UnifiedViT', **geo))
        self.text_encoder = MODELS.build(dict(type='UnifiedViT', **geo))
        self.head = nn.Linear(32, 4)

    def forward(self, *args, **kwargs):
        raise RuntimeError('not called')


def build(paramwise_cfg, lr=1e-3, wd=0.05):
    init_default_scope('simvtp')
    model = TwoTowers()
    ctor = OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
        type='LayerDecayOptimWrapperConstructor',
        optim_wrapper_cfg=dict(type='OptimWrapper', optimizer=dict(
            type='AdamW', lr=lr, weight_decay=wd)),
        paramwise_cfg=paramwise_cfg))
    return model, ctor(model).optimizer


def lr_of(optimizer, name):
    for group in optimizer.param_groups:
        if name in group['param_names']:
            return group['lr'], group['weight_decay']
    raise KeyError(name)


def test_layer_decay_scales_by_depth_in_both_towers():
    rate = 0.5
    model, opt = build(dict(layer_decay_rate=rate,
                            encoders=['video_encoder', 'text_encoder']))
    # 3 blocks -> max_layer_id 5: embeddings scale rate**4, block i
    # rate**(3-i), final norm rate**0
    for tower in ('video_encoder', 'text_encoder'):
        assert lr_of(opt, f'{tower}.patch_embed.proj.weight')[0] == \
            pytest.approx(1e-3 * rate**4)
        assert lr_of(opt, f'{tower}.text_embeddings.word_embeddings.weight'
                     )[0] == pytest.approx(1e-3 * rate**4)
        for i in range(3):
            lr, wd = lr_of(opt, f'{tower}.blocks.{i}.mlp.fc1.weight')
            assert lr == pytest.approx(1e-3 * rate**(3 - i))
            assert wd == 0.05
        assert lr_of(opt, f'{tower}.norm.weight') == (pytest.approx(1e-3),
                                                       0.0)
    assert lr_of(opt, 'head.weight') == (pytest.approx(1e-3), 0.05)
    assert lr_of(opt, 'head.bias') == (pytest.approx(1e-3), 0.0)
    # every trainable parameter is in exactly one group
    names = [n for g in opt.param_groups for n in g['param_names']]
    assert sorted(names) == sorted(n for n, _ in model.named_parameters())


def test_unlisted_encoder_is_not_decayed_and_custom_keys_apply():
    _, opt = build(dict(layer_decay_rate=0.5, encoders=['video_encoder'],
                        custom_keys={'head': dict(lr_mult=10.0)}))
    assert lr_of(opt, 'text_encoder.patch_embed.proj.weight')[0] == \
        pytest.approx(1e-3)
    assert lr_of(opt, 'head.weight')[0] == pytest.approx(1e-2)


def test_scheduler_keeps_the_decay_ratio():
    from mmengine.optim import CosineAnnealingLR
    _, opt = build(dict(layer_decay_rate=0.5, encoders=['video_encoder']))
    sched = CosineAnnealingLR(opt, T_max=10, eta_min_ratio=0.0)
    for _ in range(3):
        opt.step()
        sched.step()
    emb = lr_of(opt, 'video_encoder.patch_embed.proj.weight')[0]
    norm = lr_of(opt, 'video_encoder.norm.weight')[0]
    assert emb / norm == pytest.approx(0.5**4)


def test_bad_config_names_the_problem():
    with pytest.raises(KeyError, match='no_such'):
        build(dict(layer_decay_rate=0.5, encoders=['no_such']))
    with pytest.raises(TypeError, match='get_layer_depth'):
        build(dict(layer_decay_rate=0.5, encoders=['head']))
    with pytest.raises(KeyError, match='unknown paramwise_cfg'):
        build(dict(layer_decay=0.5))
