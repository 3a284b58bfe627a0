"""Analytic FLOP formulas against torch's FlopCounterMode."""
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from simvtp.models.backbones import UnifiedViT
from simvtp.models.decoders import VideoMAEDecoder
from tests.tool_loader import import_tool
from .common import build, make_batch

flops = import_tool('analysis_tools', 'flops')
StepShapes, attention_flops, matmul_flops = (
    flops.StepShapes, flops.attention_flops, flops.matmul_flops)
shapes_from_model, simvtp_step_flops, transformer_flops = (
    flops.shapes_from_model, flops.simvtp_step_flops,
    flops.transformer_flops)


def count(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def test_primitives():
    assert matmul_flops(3, 5, 7) == 210
    assert attention_flops(10, 8) == 4 * 100 * 8
    assert transformer_flops(10, 8, 0) == 0
    # 24 D^2 per token + 4 S^2 D per layer at mlp_ratio 4
    assert transformer_flops(10, 8, 2) == 2 * (24 * 10 * 64 + 4 * 100 * 8)


@pytest.mark.parametrize('with_text', [False, True])
def test_encoder_pass_matches_flop_counter(with_text):
    """One encoder pass (math attention: plain matmuls) counted by torch."""
    torch.manual_seed(0)
    bb = UnifiedViT(arch=dict(embed_dims=32, num_layers=2, num_heads=2,
                              mlp_ratio=3), img_size=32, patch_size=16,
                    num_frames=4, vocab_size=40, attn_impl='math').eval()
    batch, n_vis, length = 3, 5, 7
    video = torch.randn(batch, n_vis, 32)
    text = torch.randn(batch, length, 32) if with_text else None
    mask = torch.ones(batch, length, dtype=torch.long) if with_text else None
    if with_text:
        mask[0, -2:] = 0  # padding is computed, hence counted
    got = count(lambda: bb.encode(video, text, mask))
    seq = n_vis + (length if with_text else 0)
    assert got == batch * transformer_flops(seq, 32, 2, 3)


def test_embedding_and_decoder_match_flop_counter():
    torch.manual_seed(0)
    bb = UnifiedViT(arch=dict(embed_dims=32, num_layers=1, num_heads=2),
                    img_size=32, patch_size=8, num_frames=4, vocab_size=40)
    video = torch.randn(2, 3, 4, 32, 32)
    num, tube = 2 * 4 * 4, 3 * 2 * 8 * 8
    assert count(lambda: bb.embed_video(video)) == \
        2 * matmul_flops(num, 32, tube)
    mask = torch.zeros(2, num, dtype=torch.bool)
    mask[:, 5:] = True
    assert count(lambda: bb.embed_video_visible(video, mask)) == \
        2 * matmul_flops(5, 32, tube)
    dec = VideoMAEDecoder(in_dims=32, embed_dims=16, depth=2, num_heads=2,
                          patch_size=8, attn_impl='math').eval()
    got = count(lambda: dec(torch.randn(2, 5, 32), mask))
    expected = (matmul_flops(5, 16, 32) + transformer_flops(num, 16, 2)
                + matmul_flops(num - 5, tube, 16))
    assert got == 2 * expected


@pytest.mark.parametrize('vtc_video,vtm', [
    ('masked', {}), ('unmasked', {}),
    ('unmasked', dict(vtm_input='unmasked', vtm_pooling='text')),
    ('masked', dict(vtm_input='unmasked', vtm_pairs=2)),
    ('masked', dict(vtm_pooling='text'))])
@pytest.mark.parametrize('reference_flow', [False, True])
def test_whole_step_forward_matches_flop_counter(reference_flow, vtc_video,
                                                 vtm):
    """The model's loss forward, counted by torch, equals the analytic sum."""
    model = build(type='ReferenceFlowSimVTP' if reference_flow
                  else 'SimVTP', vtc_video=vtc_video, **vtm).eval()
    for m in model.modules():  # countable attention (bmm), same FLOPs
        if hasattr(m, 'attn_impl') and hasattr(m, 'num_heads'):
            m.attn_impl = 'math'
    data = model.data_preprocessor(make_batch(), True)
    inputs = data['inputs']
    batch = inputs['video'].shape[0]
    got = count(lambda: model(inputs, mode='loss'))
    shapes = shapes_from_model(model, inputs)
    parts = simvtp_step_flops(shapes, reference_flow, training=False)
    assert got == pytest.approx(parts['total'] * batch, rel=1e-9)
    train = simvtp_step_flops(shapes, reference_flow, training=True)
    assert train['total'] == 3 * parts['total'] - parts['cube_embedding']


def test_baseline_flow_costs_more():
    s = StepShapes(num_tubes=1568, num_visible=160, text_len=32,
                   num_masked_words=12, embed_dims=768, depth=12,
                   mlp_ratio=4, tube_dims=1536, dec_dims=384, dec_depth=4,
                   dec_mlp_ratio=4, num_decoded=1408, text_dec_depth=0,
                   vocab_size=30522)
    opt = simvtp_step_flops(s)
    ref = simvtp_step_flops(s, reference_flow=True)
    assert ref['vtm_pass'] == 2 * opt['vtm_pass']
    assert ref['cube_embedding'] == 3 * 1568 / 160 * opt['cube_embedding']
    for k in ('joint_pass', 'vtc_video_pass', 'vtc_text_pass',
              'video_decoder', 'text_decoder_heads'):
        assert ref[k] == opt[k]
