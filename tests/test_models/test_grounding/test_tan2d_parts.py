"""2D-TAN parts against hand-computed small cases and 2D-TAN's formulas."""
import numpy as np
import pytest
import torch
import torch.nn as nn
from mmaction.structures import ActionDataSample
from mmengine.registry import init_default_scope

import simvtp  # noqa: F401
from simvtp.models.grounding import (FrameAvgPool, MapConv, ScaledIoULoss,
                                     SparsePropMap, iou_map, nms_1d,
                                     proposal_times, sparse_proposal_mask,
                                     temporal_iou)
from simvtp.models.grounding.map_conv import masked_conv_weights
from simvtp.registry import MODELS


def cells(mask):
    return sorted(map(tuple, mask.nonzero().tolist()))


def recover_formula_cells(num_clips, num_scale_layers):
    """2D-TAN's recover_to_original_map index arithmetic, transcribed."""
    out, acum, stride = set(), 0, 1
    for scale, layers in enumerate(num_scale_layers):
        for i in range(layers):
            stride *= 2 if (scale > 0 and i == 0) else 1
            for s in range(0, num_clips - acum - i * stride, stride):
                out.add((s, s + acum + i * stride))
        acum += stride * (layers + 1)
    return sorted(out)


def test_sparse_mask_hand_cases():
    # one scale of N layers: every i <= j
    assert cells(sparse_proposal_mask(4, [4])) == [
        (i, j) for i in range(4) for j in range(i, 4)]
    # N=8, [2, 2]: durations 1, 2 everywhere; then stride 2 with widths 4, 6
    expected = [(i, i) for i in range(8)] + [(i, i + 1) for i in range(7)] \
        + [(0, 3), (2, 5), (4, 7), (0, 5), (2, 7)]
    assert cells(sparse_proposal_mask(8, [2, 2])) == sorted(expected)


@pytest.mark.parametrize('num_clips,layers', [(16, [16]), (64, [16, 8, 8]),
                                              (128, [16, 8, 8, 8]),
                                              (20, [4, 3, 2])])
def test_sparse_mask_matches_2dtan_index_formula(num_clips, layers):
    assert cells(sparse_proposal_mask(num_clips, layers)) == \
        recover_formula_cells(num_clips, layers)


def test_pool_map_cell_is_max_over_its_clips():
    torch.manual_seed(0)
    prop = SparsePropMap(hidden_dims=3, num_scale_layers=[4, 3, 2],
                         mode='pool')
    x = torch.randn(2, 3, 24)
    out, mask = prop(x)
    assert out.shape == (2, 3, 24, 24) and mask.shape == (24, 24)
    for s, e in cells(mask):
        torch.testing.assert_close(out[:, :, s, e], x[:, :, s:e + 1].amax(-1))
    assert (out[:, :, ~mask] == 0).all()


def test_conv_map_shape_and_zero_outside():
    prop = SparsePropMap(hidden_dims=4, num_scale_layers=[16, 8, 8])
    out, mask = prop(torch.randn(2, 4, 64))
    assert out.shape == (2, 4, 64, 64)
    assert (out[:, :, ~mask] == 0).all() and (out[:, :, mask] != 0).any()


def test_proposal_times_and_iou_targets_hand_case():
    times = proposal_times(4, 4.0)
    assert times[1, 2].tolist() == [1.0, 3.0]
    iou = iou_map(torch.tensor([[1.0, 3.0]]), torch.tensor([4.0]), 4)[0]
    third = 1 / 3
    expected = torch.tensor([[0, third, 2 / 3, 0.5],
                             [0, 0.5, 1.0, 2 / 3],
                             [0, 0, 0.5, third],
                             [0, 0, 0, 0.0]])
    torch.testing.assert_close(iou, expected)
    # Charades / ActivityNet bounds 0.5-1.0
    charades = ScaledIoULoss(0.5, 1.0).targets(iou)
    torch.testing.assert_close(charades, torch.tensor(
        [[0, 0, third, 0], [0, 0, 1, third], [0, 0, 0, 0], [0, 0, 0, 0.]]))
    # TACoS bounds 0.3-0.7: (iou - 0.3) / 0.4 clipped
    tacos = ScaledIoULoss(0.3, 0.7).targets(iou)
    t13, t23 = (third - 0.3) / 0.4, (2 / 3 - 0.3) / 0.4
    torch.testing.assert_close(tacos, torch.tensor(
        [[0, t13, t23, 0.5], [0, 0.5, 1, t23], [0, 0, 0.5, t13],
         [0, 0, 0, 0.]]))


def test_scaled_iou_loss_value_by_hand():
    loss = ScaledIoULoss(0.5, 1.0)
    logits = torch.tensor([[[0.0, 2.0], [5.0, -1.0]]])
    iou = torch.tensor([[[0.75, 1.0], [0.9, 0.2]]])
    mask = torch.tensor([[True, True], [False, True]])
    # valid cells: (0,0) t=0.5 p=0.5; (0,1) t=1 p=s(2); (1,1) t=0 p=s(-1)
    sig = torch.sigmoid
    terms = [-(0.5 * torch.log(sig(torch.tensor(0.))) +
               0.5 * torch.log(1 - sig(torch.tensor(0.)))),
             -torch.log(sig(torch.tensor(2.))),
             -torch.log(1 - sig(torch.tensor(-1.)))]
    torch.testing.assert_close(loss(logits, iou, mask), sum(terms) / 3)


def test_masked_conv_weights_brute_force():
    mask = torch.tensor([[1, 1, 1], [0, 1, 1], [0, 0, 1.]])[None, None]
    conv = nn.Conv2d(1, 1, 3, padding=1)
    valid, weight = masked_conv_weights(mask, conv)
    padded = np.pad(mask[0, 0].numpy(), 1)
    for i in range(3):
        for j in range(3):
            count = padded[i:i + 3, j:j + 3].sum()
            assert weight[0, 0, i, j].item() == pytest.approx(
                1 / count if count else 0)
            assert bool(valid[0, 0, i, j]) == (count > 0)


def test_map_conv_keeps_map_size():
    conv = MapConv(in_channels=4, hidden_dims=[6] * 4, kernel_sizes=[9] * 4)
    mask = sparse_proposal_mask(64, [16, 8, 8])
    out = conv(torch.randn(2, 4, 64, 64), mask)
    assert out.shape == (2, 6, 64, 64)
    assert conv.convs[0].padding == (16, 16)  # 2D-TAN's PADDINGS[0]


def test_frame_pool_shapes_and_width_error():
    pool = FrameAvgPool(in_channels=8, hidden_dims=5, kernel_size=4,
                        stride=4)
    assert pool(torch.randn(2, 64, 8)).shape == (2, 5, 16)
    with pytest.raises(ValueError, match='in_channels'):
        pool(torch.randn(2, 64, 7))


def test_temporal_iou_and_nms_hand_case():
    assert temporal_iou(np.array([0., 2.]), np.array([1., 3.])) == \
        pytest.approx(1 / 3)
    assert temporal_iou(np.array([0., 1.]), np.array([2., 3.])) == 0
    segs = np.array([[0, 4], [0, 3.], [5, 6], [1, 4], [0, 2]])
    # [0,3] vs [0,4]: 0.75 > 0.5 suppressed; [5,6] kept; [1,4] 0.75
    # suppressed; [0,2] vs [0,4]: 0.5, not above 0.5: kept
    assert nms_1d(segs, 0.5).tolist() == [0, 2, 4]
    assert nms_1d(segs, 0.5, top_k=2).tolist() == [0, 2]


def test_tan2d_predict_sorted_nms_segments():
    init_default_scope('simvtp')
    model = MODELS.build(dict(
        type='TAN2D',
        frame_pool=dict(type='FrameAvgPool', in_channels=6, hidden_dims=8,
                        kernel_size=2, stride=2),
        proposal=dict(type='SparsePropMap', num_scale_layers=[8]),
        query_encoder=dict(type='LSTMQueryEncoder', vocab_size=20,
                           embed_dims=4, hidden_dims=6, num_layers=1),
        fusion=dict(type='HadamardFusion'),
        map_conv=dict(type='MapConv', hidden_dims=[8, 8],
                      kernel_sizes=[3, 3]),
        nms_thresh=0.5, max_proposals=3))
    samples = []
    for d in (10.0, 20.0):
        s = ActionDataSample()
        s.set_metainfo(dict(gt_times=(1.0, 4.0), duration=d))
        samples.append(s)
    data = dict(inputs=[dict(features=torch.randn(16, 6),
                             input_ids=torch.tensor([2, 5, 7, 3]),
                             attention_mask=torch.ones(4, dtype=torch.long))
                        for _ in samples], data_samples=samples)
    out = model(**model.data_preprocessor(data), mode='predict')
    for s, d in zip(out, (10.0, 20.0)):
        seg, score = s.pred_segments.numpy(), s.pred_scores.numpy()
        assert 1 <= len(seg) <= 3 and (np.diff(score) <= 0).all()
        assert (seg[:, 0] >= 0).all() and (seg[:, 1] <= d + 1e-6).all()
        # kept segments overlap at most nms_thresh pairwise
        for i in range(len(seg)):
            for j in range(i + 1, len(seg)):
                assert temporal_iou(seg[i], seg[j]) <= 0.5 + 1e-9
    losses = model(**model.data_preprocessor(data, True), mode='loss')
    losses['loss'].backward()
    assert model.score.weight.grad is not None
