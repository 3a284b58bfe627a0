"""GridPoolProjection: the grid-cell video feature of VTC and retrieval,
against a hand computation, in SimVTP and in the retriever loaded from it."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope

import simvtp  # noqa: F401
from simvtp.models.layers import GridPoolProjection
from simvtp.registry import MODELS
from tests.test_models.test_algorithms.test_simvtp import (B, P, S, T, VOCAB,
                                                           build, make_batch)

D = 32  # tiny_geometry's width


def test_cell_means_concatenated_then_projected():
    torch.manual_seed(0)
    pool = GridPoolProjection(in_dims=3, grid=(2, 1, 2))
    tokens = torch.randn(2, 4 * 2 * 4, 3)  # a (4, 2, 4) token grid
    grid = tokens.view(2, 4, 2, 4, 3)
    cells = []
    for t in range(2):
        for w in range(2):  # the whole height is one cell
            cells.append(grid[:, 2 * t:2 * t + 2, :, 2 * w:2 * w + 2]
                         .reshape(2, -1, 3).mean(1))
    expected = F.linear(torch.cat(cells, dim=1), pool.proj.weight,
                        pool.proj.bias)
    torch.testing.assert_close(pool(tokens, (4, 2, 4)), expected)
    with pytest.raises(ValueError, match='do not form a'):
        pool(tokens[:, 1:], (4, 2, 4))  # visible tubes only: no grid
    # a shorter clip (one time step): both time cells are that step
    one_step = pool(tokens[:, :8], (1, 2, 4))
    first = tokens[:, :8].view(2, 1, 2, 4, 3)
    cells = [first[:, :, :, 2 * w:2 * w + 2].reshape(2, -1, 3).mean(1)
             for w in range(2)]
    torch.testing.assert_close(one_step, F.linear(
        torch.cat(cells * 2, dim=1), pool.proj.weight, pool.proj.bias))
    with pytest.raises(ValueError, match='positive ints'):
        GridPoolProjection(in_dims=3, grid=(0, 1, 1))


def pooled(grid=(2, 2, 2)):
    return dict(type='GridPoolProjection', in_dims=D, grid=grid)


def test_simvtp_vtc_and_features_use_the_grid_feature():
    init_default_scope('simvtp')
    torch.manual_seed(0)
    model = build(objectives=('vtc', ), vtc_video='unmasked',
                  video_pool=pooled()).eval()
    data = model.data_preprocessor(make_batch(), True)
    inputs = data['inputs']
    bb = model.backbone
    tokens = bb.encode(bb.embed_video(inputs['video']))[0]
    v_feat = model.video_pool(tokens, (T // 2, S // P, S // P))
    _, t_only = bb.encode(None, bb.embed_text(inputs['input_ids']),
                          inputs['attention_mask'])
    am = inputs['attention_mask'].unsqueeze(-1).float()
    t_feat = (t_only * am).sum(1) / am.sum(1)
    expected = model.vtc_head.loss(v_feat, t_feat)['loss_vtc']
    got = model(**data, mode='loss')['loss_vtc']
    torch.testing.assert_close(got, expected)
    model.train()
    model(**data, mode='loss')['loss_vtc'].backward()
    assert model.video_pool.proj.weight.grad.abs().sum() > 0
    # zero-shot features: the same pooling, also when a mask is passed
    feats = model.extract_features(inputs)['video_feature']
    torch.testing.assert_close(feats, v_feat.detach())
    assert feats.shape == (B, D)
    with pytest.raises(ValueError, match="vtc_video='unmasked'"):
        build(video_pool=pooled())
    with pytest.raises(ValueError, match='video_pool.in_dims=64 differs'):
        build(vtc_video='unmasked', video_pool=dict(pooled(), in_dims=64))


def test_retriever_loads_the_pretrained_pooling_and_gives_its_features(
        tmp_path):
    torch.manual_seed(1)
    pre = build(vtc_video='unmasked', video_pool=pooled()).eval()
    path = tmp_path / 'epoch_1.pth'
    torch.save(dict(state_dict=pre.state_dict()), path)
    backbone = dict(pre_backbone_cfg(), type='UnifiedViT')
    init_default_scope('simvtp')
    retriever = MODELS.build(dict(
        type='VideoTextRetriever', backbone=backbone,
        video_pool=pooled(),
        vtc_head=dict(type='VTCHead', embed_dims=D),
        init_cfg=dict(type='SimVTPPretrained', checkpoint=str(path),
                      prefix_map={'backbone.': 'backbone.',
                                  'video_pool.': 'video_pool.'})))
    retriever.init_weights()
    retriever.eval()
    assert torch.equal(retriever.video_pool.proj.weight,
                       pre.video_pool.proj.weight)
    inputs = pre.data_preprocessor(make_batch(), False)['inputs']
    torch.testing.assert_close(
        retriever.extract_features(dict(video=inputs['video']))[
            'video_feature'],
        pre.extract_features(dict(video=inputs['video']))['video_feature'])
    with pytest.raises(ValueError, match='TubeMasking'):
        retriever.encode_video(inputs['video'], inputs['video_mask'])


def pre_backbone_cfg():
    from tests.tiny_model import tiny_geometry
    return tiny_geometry(vocab=VOCAB, size=S, patch=P, frames=T)['backbone']
