"""UnifiedViT as an mmaction2 Recognizer3D backbone (issue 18).

Built from an mmaction-scope config file (``default_scope='mmaction'``,
``custom_imports`` simvtp, ``type='simvtp.UnifiedViT'``), with mmaction2's
own heads; the output formats against independent computations; parity of
logits with mmaction2's vit_mae ``VisionTransformer`` after conversion.
"""
import pytest
import torch
from mmengine.config import Config

import simvtp  # noqa: F401  (compat fixes before mmaction's vit_mae)
from simvtp.checkpoint.mmaction_vit import mmaction_vit_to_simvtp
from simvtp.models.backbones import UnifiedViT

GEOMETRY = dict(arch=dict(embed_dims=32, num_layers=2, num_heads=2,
                          mlp_ratio=2), img_size=32, patch_size=16,
                num_frames=4, tubelet_size=2)
PREPROCESSOR = dict(type='ActionDataPreprocessor',
                    mean=[123.675, 116.28, 103.53],
                    std=[58.395, 57.12, 57.375], format_shape='NCTHW')

CONFIG = '''
default_scope = 'mmaction'
custom_imports = dict(imports=['simvtp'], allow_failed_imports=False)
model = dict(
    type='Recognizer3D',
    backbone=dict(type='simvtp.UnifiedViT', arch=dict(embed_dims=32,
                  num_layers=2, num_heads=2, mlp_ratio=2), img_size=32,
                  patch_size=16, num_frames=4, with_text=False,
                  drop_path_rate=0.1, out_type={out_type!r}, fc_norm={fc}),
    cls_head=dict(type={head!r}, num_classes=5, in_channels=32,
                  average_clips='prob'),
    data_preprocessor={pre!r})
'''


def _batch(num_views=1, batch=2, seed=0):
    """What mmaction2's PackActionInputs + pseudo-collate give."""
    from mmaction.structures import ActionDataSample
    g = torch.Generator().manual_seed(seed)
    inputs = [torch.randint(0, 256, (num_views, 3, 4, 32, 32), generator=g,
                            dtype=torch.uint8) for _ in range(batch)]
    samples = [ActionDataSample().set_gt_label(i % 5) for i in range(batch)]
    return dict(inputs=inputs, data_samples=samples)


@pytest.mark.parametrize('head,out_type,fc', [
    ('TimeSformerHead', 'avg_featmap', True),
    ('I3DHead', 'featmap', False),
])
def test_recognizer3d_from_mmaction_config(tmp_path, mmaction_scope, head,
                                           out_type, fc):
    from mmaction.registry import MODELS
    path = tmp_path / 'recognizer.py'
    path.write_text(CONFIG.format(out_type=out_type, fc=fc, head=head,
                                  pre=PREPROCESSOR))
    cfg = Config.fromfile(str(path))  # imports simvtp (custom_imports)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    assert type(model.backbone).__module__.startswith('simvtp')
    assert model.backbone.text_embeddings is None  # video-only

    model.train()
    data = model.data_preprocessor(_batch(), training=True)
    losses = model(**data, mode='loss')
    assert losses['loss_cls'].ndim == 0 and torch.isfinite(
        losses['loss_cls'])
    losses['loss_cls'].backward()
    grad = model.backbone.blocks[0].attn.qkv.weight.grad
    assert grad is not None and grad.abs().sum() > 0

    # mmaction2's multi-view test: 3 views per video, scores averaged
    model.eval()
    data = model.data_preprocessor(_batch(num_views=3), training=False)
    with torch.no_grad():
        preds = model(**data, mode='predict')
    assert len(preds) == 2
    for pred in preds:
        assert pred.pred_score.shape == (5, )
        assert torch.allclose(pred.pred_score.sum(), torch.tensor(1.))


def _pair_of_outputs(out_type, **kwargs):  # same weights for every type
    torch.manual_seed(0)
    model = UnifiedViT(**GEOMETRY, with_text=False, out_type=out_type,
                       **kwargs)
    model.init_weights()
    return model


def test_pooled_features_are_means_of_the_token_map():
    video = torch.randn(2, 3, 4, 32, 32, generator=torch.Generator()
                        .manual_seed(1))
    featmap_model = _pair_of_outputs('featmap').eval()
    with torch.no_grad():
        fmap = featmap_model(video)
        raw = UnifiedViT.forward(featmap_model, video)  # any out_type
    assert fmap.shape == (2, 32, 2, 2, 2)
    for out_type in ('raw', 'avg_featmap', 'grid_featmap', 'grid_2x1x2'):
        if out_type == 'grid_2x1x2':
            other = _pair_of_outputs('grid_featmap', pool_grid=(None, 1, 2))
        else:
            other = _pair_of_outputs(out_type)
        other.eval()
        other.load_state_dict(featmap_model.state_dict())
        with torch.no_grad():
            out = other(video)
        if out_type == 'raw':
            assert out.shape == (2, 8, 32)
            # token (t', h', w') sits at fmap[:, :, t', h', w']
            assert torch.allclose(out[:, 1 * 4 + 0 * 2 + 1],
                                  fmap[:, :, 1, 0, 1], atol=1e-6)
        elif out_type == 'avg_featmap':
            assert torch.allclose(out, fmap.mean(dim=(2, 3, 4)), atol=1e-6)
        elif out_type == 'grid_featmap':  # one mean per time step
            expect = torch.cat([fmap[:, :, t].mean(dim=(2, 3))
                                for t in range(2)], dim=1)
            assert out.shape == (2, 64)
            assert torch.allclose(out, expect, atol=1e-6)
        else:  # cells (t, h=all, w=one column), in (t, h, w) order
            expect = torch.cat([fmap[:, :, t, :, w].mean(dim=2)
                                for t in range(2) for w in range(2)], dim=1)
            assert out.shape == (2, 128)
            assert torch.allclose(out, expect, atol=1e-6)
    assert raw.shape == fmap.shape


def test_fc_norm_normalises_the_pooled_feature():
    model = _pair_of_outputs('avg_featmap', fc_norm=True,
                             final_norm=False).eval()
    with torch.no_grad():
        model.fc_norm.weight.normal_()
        model.fc_norm.bias.normal_()
        video = torch.randn(2, 3, 4, 32, 32)
        pooled = model(video)
        model.out_type = 'raw'
        tokens = model(video)
    mean = tokens.mean(1)
    expect = torch.nn.functional.layer_norm(
        mean, (32, ), model.fc_norm.weight, model.fc_norm.bias, eps=1e-6)
    assert torch.allclose(pooled, expect, atol=1e-5)
    assert 'norm.weight' not in model.state_dict()  # final_norm=False


def test_bad_options_are_named():
    with pytest.raises(ValueError, match='out_type must be one of'):
        UnifiedViT(**GEOMETRY, out_type='cls_token')
    with pytest.raises(ValueError, match='pool_grid must be'):
        UnifiedViT(**GEOMETRY, out_type='grid_featmap', pool_grid=(1, 0, 1))
    with pytest.raises(ValueError, match='fc_norm normalises a pooled'):
        UnifiedViT(**GEOMETRY, out_type='featmap', fc_norm=True)
    model = UnifiedViT(**GEOMETRY, out_type='featmap', with_text=False)
    with pytest.raises(ValueError, match='only allowed with'):
        model(torch.randn(1, 3, 4, 32, 32),
              video_mask=torch.zeros(1, 8, dtype=torch.bool))
    with pytest.raises(RuntimeError, match='with_text=False'):
        model.embed_text(torch.ones(1, 3, dtype=torch.long))


def test_converted_vit_mae_gives_the_same_logits(mmaction_scope):
    """mmaction2 vit_mae recogniser -> converter -> simvtp recogniser."""
    from mmaction.registry import MODELS
    head = dict(type='TimeSformerHead', num_classes=5, in_channels=32,
                average_clips='prob')
    torch.manual_seed(0)
    theirs = MODELS.build(dict(
        type='Recognizer3D', data_preprocessor=PREPROCESSOR, cls_head=head,
        backbone=dict(type='VisionTransformer', img_size=32, patch_size=16,
                      embed_dims=32, depth=2, num_heads=2, mlp_ratio=2,
                      num_frames=4, norm_cfg=dict(type='LN', eps=1e-6))))
    theirs.init_weights()
    with torch.no_grad():  # non-trivial biases and post-pool norm
        for name, p in theirs.named_parameters():
            if name.endswith(('bias', 'fc_norm.weight')):
                p.normal_(std=0.2)
    source = {'state_dict': theirs.state_dict()}

    converted, report = mmaction_vit_to_simvtp(source, keep_fc_norm=True)
    assert 'backbone.fc_norm.weight' in converted
    assert not report.lossy
    ours = MODELS.build(dict(
        type='Recognizer3D', data_preprocessor=PREPROCESSOR, cls_head=head,
        backbone=dict(type='simvtp.UnifiedViT', **GEOMETRY, with_text=False,
                      out_type='avg_featmap', final_norm=False,
                      fc_norm=True)))
    state = dict(converted)
    state.update({k: v for k, v in source['state_dict'].items()
                  if k.startswith('cls_head.')})
    missing, unexpected = ours.load_state_dict(state, strict=False)
    assert not unexpected
    assert not [k for k in missing if not k.startswith('data_preprocessor')]

    data = _batch(num_views=2, seed=3)
    theirs.eval()
    ours.eval()
    with torch.no_grad():
        inputs = theirs.data_preprocessor(data)['inputs']
        feats = ours(inputs, mode='tensor')  # the pooled, fc_norm'ed feature
        assert feats.shape == (4, 32)  # 2 videos x 2 views
        assert torch.allclose(feats, theirs(inputs, mode='tensor'),
                              atol=1e-5)
        expect = theirs.cls_head(theirs(inputs, mode='tensor'))
        got = ours.cls_head(feats)
    assert expect.shape == (4, 5)  # logits per view
    assert torch.allclose(got, expect, atol=1e-5), (got - expect).abs().max()


def test_layer_decay_and_drop_path_in_a_recognizer(mmaction_scope):
    """The foundation's constructor groups a Recognizer3D's parameters by
    UnifiedViT.get_layer_depth; drop path is live in training only."""
    from mmaction.registry import MODELS

    from simvtp.registry import OPTIM_WRAPPER_CONSTRUCTORS
    model = MODELS.build(dict(
        type='Recognizer3D', data_preprocessor=PREPROCESSOR,
        cls_head=dict(type='TimeSformerHead', num_classes=5, in_channels=32),
        backbone=dict(type='simvtp.UnifiedViT', **GEOMETRY, with_text=False,
                      out_type='avg_featmap', fc_norm=True,
                      drop_path_rate=0.2)))
    constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
        type='simvtp.LayerDecayOptimWrapperConstructor',
        optim_wrapper_cfg=dict(type='OptimWrapper', optimizer=dict(
            type='AdamW', lr=1e-3, weight_decay=0.05)),
        paramwise_cfg=dict(layer_decay_rate=0.5, encoders=['backbone'])))
    groups = constructor(model).optimizer.param_groups
    scale = {n: g['lr_scale'] for g in groups for n in g['param_names']}
    assert len(scale) == len(list(model.parameters()))
    # 2 blocks: max_layer_id 4; lr scale 0.5 ** (3 - layer_id)
    assert scale['backbone.patch_embed.proj.weight'] == 0.5 ** 3
    assert scale['backbone.blocks.0.attn.qkv.weight'] == 0.5 ** 2
    assert scale['backbone.blocks.1.mlp.fc1.weight'] == 0.5
    assert scale['backbone.fc_norm.weight'] == 1.0
    assert scale['cls_head.fc_cls.weight'] == 1.0

    blocks = model.backbone.blocks
    assert blocks[1].drop_path.drop_prob == pytest.approx(0.2)
    video = torch.randn(4, 3, 4, 32, 32)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model.backbone(video), model.backbone(video))
    model.train()
    with torch.no_grad():
        assert not torch.equal(model.backbone(video), model.backbone(video))
