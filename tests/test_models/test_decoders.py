"""Tests of the video, text and shared decoders."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import simvtp  # noqa: F401
from simvtp.models.decoders import (SharedVideoTextDecoder, TextDecoder,
                                    VideoMAEDecoder)
from simvtp.registry import MODELS


def _numpy_sincos(num, dims):
    table = np.zeros((num, dims), dtype=np.float64)
    for pos in range(num):
        for j in range(dims):
            angle = pos / 10000.0**(2 * (j // 2) / dims)
            table[pos, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    return torch.from_numpy(table.astype(np.float32))


def _mask(batch=2, num=16, hidden=12, seed=0):
    rng = np.random.RandomState(seed)
    mask = np.zeros((batch, num), dtype=bool)
    for b in range(batch):
        mask[b, rng.choice(num, hidden, replace=False)] = True
    return torch.from_numpy(mask)


def _video_decoder(**kwargs):
    cfg = dict(in_dims=64, depth=2, patch_size=4, tubelet_size=2,
               in_channels=3)
    cfg.update(kwargs)
    torch.manual_seed(0)
    dec = VideoMAEDecoder(**cfg)
    dec.init_weights()
    return dec


def _check_all_grads(module, outputs):
    loss = sum(o.float().sum() for o in outputs)
    loss.backward()
    for name, p in module.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


# ------------------------------------------------------------ video
def test_video_decoder_defaults_and_shapes():
    dec = VideoMAEDecoder()
    assert dec.embed_dims == 384 and dec.blocks[0].attn.num_heads == 6
    assert dec.head.out_features == 2 * 16 * 16 * 3
    assert dec.encoder_to_decoder.bias is None
    assert dec.mask_token.shape == (1, 1, 384)
    sd = dec.state_dict()
    assert not any('pos' in k for k in sd)
    assert VideoMAEDecoder(in_dims=64).blocks[0].attn.num_heads == 1

    dec = _video_decoder()
    mask = _mask()
    out = dec(torch.randn(2, 4, 64), mask)
    assert out.shape == (2, 12, 2 * 4 * 4 * 3)


def test_video_decoder_depth0_targets_hidden_tokens_in_order():
    # Without blocks, a hidden token's prediction is
    # head(norm(mask_token + pos[index])): checks which tokens are decoded,
    # their order, and the position table, independently of the module.
    dec = _video_decoder(depth=0)
    mask = _mask()
    vis = torch.randn(2, 4, 64)
    with torch.no_grad():
        out = dec(vis, mask)
        table = _numpy_sincos(16, 32)
        for b in range(2):
            hidden = [i for i in range(16) if mask[b, i]]
            x = dec.mask_token[0] + table[hidden]
            x = F.layer_norm(x, (32, ), dec.norm.weight, dec.norm.bias, 1e-6)
            ref = x @ dec.head.weight.T + dec.head.bias
            torch.testing.assert_close(out[b], ref)


def test_video_decoder_uses_visible_tokens():
    dec = _video_decoder().eval()
    mask = _mask()
    vis = torch.randn(2, 4, 64)
    with torch.no_grad():
        a = dec(vis, mask)
        vis2 = vis.clone()
        vis2[1, 0] += 1.0
        b = dec(vis2, mask)
    torch.testing.assert_close(a[0], b[0])
    assert not torch.allclose(a[1], b[1])


def test_video_decoder_decode_mask_subset():
    dec = _video_decoder().eval()
    mask = _mask()
    decode = torch.zeros_like(mask)
    for b in range(2):
        hidden = torch.nonzero(mask[b]).flatten()
        decode[b, hidden[[1, 4, 7, 9, 10]]] = True
    vis = torch.randn(2, 4, 64)
    out = dec(vis, mask, decode_mask=decode)
    assert out.shape == (2, 5, 96)
    # With depth 0 the subset predictions equal the rows of the full output.
    dec0 = _video_decoder(depth=0)
    with torch.no_grad():
        full = dec0(vis, mask)
        sub = dec0(vis, mask, decode_mask=decode)
    for b in range(2):
        torch.testing.assert_close(sub[b], full[b, [1, 4, 7, 9, 10]])
    with pytest.raises(RuntimeError, match='subset'):  # a device-side check
        dec(vis, mask, decode_mask=~mask)


def test_video_decoder_errors():
    dec = _video_decoder()
    with pytest.raises(RuntimeError, match='5 visible'):  # device-side check
        dec(torch.randn(2, 5, 64), _mask())  # 5 visible vs mask's 4
    with pytest.raises(ValueError):
        dec(torch.randn(2, 4, 64), _mask().long())


def test_video_decoder_grads_and_cp():
    dec = _video_decoder(drop_path_rate=0.2).train()
    mask = _mask()
    vis = torch.randn(2, 4, 64)
    torch.manual_seed(5)
    out = dec(vis, mask)
    _check_all_grads(dec, [out])
    grads = {n: p.grad.clone() for n, p in dec.named_parameters()}
    dec_cp = _video_decoder(drop_path_rate=0.2, with_cp=True).train()
    dec_cp.load_state_dict(dec.state_dict())
    torch.manual_seed(5)
    out_cp = dec_cp(vis, mask)
    out_cp.sum().backward()
    torch.testing.assert_close(out_cp, out)
    for n, p in dec_cp.named_parameters():
        torch.testing.assert_close(p.grad, grads[n], atol=1e-5, rtol=1e-5)


def test_video_decoder_init():
    dec = _video_decoder(in_dims=1024, embed_dims=512, depth=0)
    # trunc_normal_(std=0.02) with the default (absolute) bounds [-2, 2]
    assert dec.mask_token.std().item() == pytest.approx(0.02, rel=0.15)
    assert dec.mask_token.mean().abs().item() < 0.005
    assert torch.all(dec.head.bias == 0)
    assert dec.no_weight_decay() == {'mask_token'}


# ------------------------------------------------------------- text
def test_text_decoder_linear():
    dec = TextDecoder(in_dims=32, vocab_size=40)
    dec.init_weights()
    assert [n for n, _ in dec.named_parameters()] == ['head.weight',
                                                      'head.bias']
    x = torch.randn(2, 5, 32)
    out = dec(x)
    assert out.shape == (2, 5, 40)
    torch.testing.assert_close(out, x @ dec.head.weight.T + dec.head.bias)


@pytest.mark.parametrize('depth', [0, 2])
def test_text_decoder_select(depth):
    torch.manual_seed(0)
    dec = TextDecoder(in_dims=32, vocab_size=40, depth=depth).eval()
    dec.init_weights()
    x = torch.randn(2, 6, 32)
    am = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]])
    select = torch.zeros(2, 6, dtype=torch.bool)
    select[0, [1, 5]] = True
    select[1, [0, 2, 3]] = True
    with torch.no_grad():
        full = dec(x, am)
        sel = dec(x, am, select=select)
    assert full.shape == (2, 6, 40) and sel.shape == (5, 40)
    rows = torch.stack([full[0, 1], full[0, 5], full[1, 0], full[1, 2],
                        full[1, 3]])
    torch.testing.assert_close(sel, rows)


def test_text_decoder_blocks_respect_padding_and_grads():
    torch.manual_seed(0)
    dec = TextDecoder(in_dims=32, vocab_size=40, depth=1)
    dec.init_weights()
    assert dec.blocks[0].attn.num_heads == 1 and dec.norm is not None
    x = torch.randn(1, 6, 32)
    am = torch.tensor([[1, 1, 1, 1, 0, 0]])
    with torch.no_grad():
        padded = dec(x, am)[0, :4]
        short = dec(x[:, :4])[0]
    torch.testing.assert_close(padded, short, atol=1e-5, rtol=1e-5)
    _check_all_grads(dec, [dec(x, am)])


# ----------------------------------------------------------- shared
def test_shared_decoder_shapes_grads_and_padding():
    torch.manual_seed(0)
    dec = SharedVideoTextDecoder(in_dims=64, depth=2, patch_size=4,
                                 vocab_size=30).eval()
    dec.init_weights()
    mask = _mask()
    vis = torch.randn(2, 4, 64)
    text = torch.randn(2, 5, 64)
    am = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]])
    video_pred, logits = dec(vis, mask, text, am)
    assert video_pred.shape == (2, 12, 96) and logits.shape == (2, 5, 30)
    with torch.no_grad():
        vp1, lg1 = dec(vis[1:], mask[1:], text[1:, :2])
    torch.testing.assert_close(video_pred[1], vp1[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(logits[1, :2], lg1[0], atol=1e-5, rtol=1e-5)
    select = am.bool()
    _, sel = dec(vis, mask, text, am, select=select)
    torch.testing.assert_close(sel, logits[select])
    dec.train()
    _check_all_grads(dec, dec(vis, mask, text, am))


def test_decoders_registered():
    for name, cfg in [('VideoMAEDecoder', dict(in_dims=64, depth=1)),
                      ('TextDecoder', dict(in_dims=32, vocab_size=10)),
                      ('SharedVideoTextDecoder',
                       dict(in_dims=64, depth=1, vocab_size=10))]:
        m = MODELS.build(dict(type=name, **cfg))
        assert type(m).__name__ == name
