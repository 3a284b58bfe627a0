"""Tests of the shared layers: position tables, token gathering, attention."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import simvtp  # noqa: F401
from simvtp.models.layers import (Attention, Block, SinCosCache,
                                  build_key_padding_mask, gather_masked,
                                  gather_visible, interpolate_pos_embed,
                                  merge_tokens, num_masked, num_visible,
                                  run_blocks, sincos_table)


def _numpy_sincos(num_positions, dims):
    table = np.zeros((num_positions, dims), dtype=np.float64)
    for pos in range(num_positions):
        for j in range(dims):
            angle = pos / np.power(10000.0, 2 * (j // 2) / dims)
            table[pos, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    return table.astype(np.float32)


# --------------------------------------------------------------- position
@pytest.mark.parametrize('num,dims', [(1568, 16), (37, 24), (5, 6)])
def test_sincos_table_matches_numpy_loop(num, dims):
    table = sincos_table(num, dims)
    assert table.dtype == torch.float32
    assert table.shape == (num, dims)
    expected = _numpy_sincos(num, dims)
    # float64 math then a single cast: identical to the numpy reference.
    np.testing.assert_array_equal(table.numpy(), expected)


def test_sincos_table_spot_values():
    table = sincos_table(100, 8)
    assert table[0, 0].item() == 0.0 and table[0, 1].item() == 1.0
    # pos 7, dim 5 -> cos(7 / 10000 ** (4 / 8))
    assert table[7, 5].item() == pytest.approx(math.cos(7 / 100.0), abs=1e-7)
    # pos 99, dim 2 -> sin(99 / 10000 ** (2 / 8))
    assert table[99, 2].item() == pytest.approx(math.sin(99 / 10.0),
                                                abs=1e-7)


def test_sincos_cache_reuses_and_converts():
    cache = SinCosCache(8)
    a = cache(10)
    assert a is cache(10, 'cpu', torch.float32)
    b = cache(10, 'cpu', torch.float64)
    assert b.dtype == torch.float64
    torch.testing.assert_close(b.float(), a)
    with torch.inference_mode():
        c = cache(12)
    assert not c.is_inference()


def test_interpolate_identity_and_constant():
    pos = torch.randn(1, 2 * 3 * 4, 8)
    assert interpolate_pos_embed(pos, (2, 3, 4), (2, 3, 4)) is pos
    const = torch.ones(1, 2 * 3 * 4, 8) * 0.5
    out = interpolate_pos_embed(const, (2, 3, 4), (4, 5, 2))
    assert out.shape == (1, 40, 8)
    torch.testing.assert_close(out, torch.full_like(out, 0.5))


def test_interpolate_token_order_is_t_h_w():
    # A table that varies only over (h, w): resizing T alone must copy the
    # (h, w) slice into every new frame, which checks the (t', h', w') order.
    t, h, w, d = 2, 3, 4, 5
    hw = torch.randn(h, w, d)
    pos = hw[None].expand(t, h, w, d).reshape(1, t * h * w, d)
    out = interpolate_pos_embed(pos, (t, h, w), (4, h, w))
    out = out.reshape(4, h, w, d)
    for k in range(4):
        torch.testing.assert_close(out[k], hw)


def test_interpolate_rejects_bad_grid():
    with pytest.raises(ValueError):
        interpolate_pos_embed(torch.zeros(1, 10, 4), (2, 3, 4), (2, 3, 4))


# ----------------------------------------------------------------- tokens
def test_gather_visible_and_masked_keep_ascending_order():
    batch, num, dims = 3, 10, 2
    tokens = torch.arange(batch * num * dims, dtype=torch.float32).reshape(
        batch, num, dims)
    rng = np.random.RandomState(0)
    mask = np.zeros((batch, num), dtype=bool)
    for b in range(batch):
        mask[b, rng.choice(num, 6, replace=False)] = True
    vis = gather_visible(tokens, torch.from_numpy(mask))
    hid = gather_masked(tokens, torch.from_numpy(mask))
    assert vis.shape == (batch, 4, dims) and hid.shape == (batch, 6, dims)
    for b in range(batch):
        vis_idx = [i for i in range(num) if not mask[b, i]]
        hid_idx = [i for i in range(num) if mask[b, i]]
        np.testing.assert_array_equal(vis[b].numpy(),
                                      tokens[b, vis_idx].numpy())
        np.testing.assert_array_equal(hid[b].numpy(),
                                      tokens[b, hid_idx].numpy())
    assert num_visible(torch.from_numpy(mask)) == 4
    assert num_masked(torch.from_numpy(mask)) == 6
    merged = merge_tokens(vis, hid, torch.from_numpy(mask))
    torch.testing.assert_close(merged, tokens)


def test_gather_raises_on_unequal_counts():
    tokens = torch.randn(2, 5, 3)
    mask = torch.tensor([[True, False, False, True, False],
                         [True, True, False, True, False]])
    with pytest.raises(ValueError, match='same number'):
        gather_visible(tokens, mask)
    with pytest.raises(ValueError, match='same number'):
        gather_masked(tokens, mask)
    with pytest.raises(ValueError):
        num_visible(mask)
    with pytest.raises(TypeError):
        gather_visible(tokens, mask.long())


# -------------------------------------------------------------- attention
def _reference_attention(attn, x, key_mask=None):
    """Hand-written float64 attention from the module's raw parameters."""
    x = x.double()
    w = attn.qkv.weight.double()
    bias = torch.cat((attn.q_bias.double(), torch.zeros_like(
        attn.q_bias.double()), attn.v_bias.double()))
    qkv = F.linear(x, w, bias)
    batch, seq, _ = x.shape
    heads, hd = attn.num_heads, attn.head_dim
    dim = heads * hd
    q, k, v = qkv.split(dim, dim=-1)
    q = q.reshape(batch, seq, heads, hd).transpose(1, 2)
    k = k.reshape(batch, seq, heads, hd).transpose(1, 2)
    v = v.reshape(batch, seq, heads, hd).transpose(1, 2)
    scores = q @ k.transpose(-1, -2) / math.sqrt(hd)
    if key_mask is not None:
        scores = scores.masked_fill(~key_mask[:, None, None, :],
                                    float('-inf'))
    out = scores.softmax(-1) @ v
    out = out.transpose(1, 2).reshape(batch, seq, dim)
    return F.linear(out, attn.proj.weight.double(), attn.proj.bias.double())


@pytest.mark.parametrize('impl', ['sdpa', 'math'])
def test_attention_qkv_bias_layout(impl):
    torch.manual_seed(0)
    attn = Attention(16, num_heads=2, attn_impl=impl).eval()
    assert attn.qkv.bias is None
    names = {n for n, _ in attn.named_parameters()}
    assert names == {'qkv.weight', 'q_bias', 'v_bias', 'proj.weight',
                     'proj.bias'}
    with torch.no_grad():
        attn.q_bias.normal_()
        attn.v_bias.normal_()
    x = torch.randn(2, 7, 16)
    key_mask = torch.ones(2, 7, dtype=torch.bool)
    key_mask[1, 4:] = False
    for km in (None, key_mask):
        out = attn(x, km)
        ref = _reference_attention(attn, x, km)
        torch.testing.assert_close(out.double(), ref, atol=1e-5, rtol=1e-5)


def test_attention_no_qkv_bias():
    attn = Attention(8, num_heads=2, qkv_bias=False)
    assert attn.q_bias is None and attn.v_bias is None
    x = torch.randn(1, 3, 8)
    torch.testing.assert_close(attn.project(x), x @ attn.qkv.weight.t())
    assert attn(torch.randn(1, 3, 8)).shape == (1, 3, 8)


def test_attention_bad_impl():
    with pytest.raises(ValueError):
        Attention(8, 2, attn_impl='flash')


def test_block_math_equals_sdpa():
    torch.manual_seed(1)
    blk_a = Block(32, 4, attn_impl='sdpa').eval()
    blk_b = Block(32, 4, attn_impl='math').eval()
    blk_b.load_state_dict(blk_a.state_dict())
    x = torch.randn(3, 9, 32)
    km = torch.ones(3, 9, dtype=torch.bool)
    km[0, 6:] = False
    km[2, 3:] = False
    for mask in (None, km):
        torch.testing.assert_close(blk_a(x, mask), blk_b(x, mask),
                                   atol=1e-5, rtol=1e-5)


def test_block_structure_and_gelu():
    blk = Block(16, 2)
    assert blk.norm1.eps == 1e-6 and blk.norm2.eps == 1e-6
    assert blk.mlp.fc1.out_features == 64
    assert blk.mlp.act.approximate == 'none'


def test_build_key_padding_mask():
    assert build_key_padding_mask(3, None, 2) is None
    # an all-real mask is kept (checking would read the device); callers
    # pass None for batches without padding
    assert build_key_padding_mask(3, torch.ones(2, 4), 2).all()
    tm = torch.tensor([[1, 1, 0], [1, 1, 1]])
    km = build_key_padding_mask(2, tm, 2)
    expected = torch.tensor([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]]).bool()
    assert torch.equal(km, expected)
    # text-only with an all-padding sample: that row attends to everything
    km = build_key_padding_mask(0, torch.tensor([[1, 0], [0, 0]]), 2)
    assert torch.equal(km, torch.tensor([[True, False], [True, True]]))


def test_all_padding_row_matches_math_and_is_finite():
    torch.manual_seed(3)
    blk_a = Block(16, 2, attn_impl='sdpa').eval()
    blk_b = Block(16, 2, attn_impl='math').eval()
    blk_b.load_state_dict(blk_a.state_dict())
    x = torch.randn(2, 4, 16)
    tm = torch.tensor([[1, 1, 0, 0], [0, 0, 0, 0]])
    out_a = blk_a(x, build_key_padding_mask(0, tm, 2))
    out_b = blk_b(x, tm.bool())  # reference: additive -10000 on every key
    assert torch.isfinite(out_a).all()
    # float32 scores shifted by -10000 keep only ~1e-3 absolute precision
    torch.testing.assert_close(out_a, out_b, atol=1e-3, rtol=1e-3)
    # the all-padding row is exactly unmasked attention
    torch.testing.assert_close(out_a[1], blk_a(x[1:])[0])


def test_run_blocks_checkpoint_matches():
    torch.manual_seed(2)
    blocks = torch.nn.ModuleList([Block(16, 2) for _ in range(2)]).train()
    x = torch.randn(2, 5, 16, requires_grad=True)
    out_a = run_blocks(blocks, x, None, with_cp=False)
    ga = torch.autograd.grad(out_a.sum(), [x] + list(blocks.parameters()))
    out_b = run_blocks(blocks, x, None, with_cp=True)
    gb = torch.autograd.grad(out_b.sum(), [x] + list(blocks.parameters()))
    torch.testing.assert_close(out_a, out_b)
    for a, b in zip(ga, gb):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize('packed', [False, True])
@pytest.mark.parametrize('with_cp', [False, True])
def test_query_subset_last_block_equals_full_pass(packed, with_cp):
    """query_start: the outputs of the tokens query_start: (and the
    gradients through them) equal the full pass's; in training the
    stochastic-depth draws are the same (one per sample)."""
    from simvtp.models.layers.packed import run_blocks_packed
    torch.manual_seed(3)
    blocks = torch.nn.ModuleList(
        [Block(16, 2, drop_path=0.3) for _ in range(3)]).train()
    x = torch.randn(4, 9, 16, requires_grad=True)
    key_mask = torch.ones(4, 9, dtype=torch.bool)
    key_mask[1, 7:] = False
    key_mask[3, 6:] = False
    weight = torch.randn(4, 4, 16)  # a random readout of the 4 last tokens

    def run(query_start):
        torch.manual_seed(7)  # same DropPath draws in both runs
        if packed:
            out = run_blocks_packed(blocks, x, key_mask, with_cp,
                                    query_start=query_start)
        else:
            out = run_blocks(blocks, x, key_mask, with_cp, query_start)
        out = out[:, -4:]
        loss = (out * weight * key_mask[:, -4:, None]).sum()
        grads = torch.autograd.grad(loss, [x] + list(blocks.parameters()))
        return out, grads

    full, full_grads = run(None)
    part, part_grads = run(5)
    assert part.shape == (4, 4, 16)
    real = key_mask[:, -4:]
    torch.testing.assert_close(part[real], full[real], atol=1e-6, rtol=1e-5)
    for a, b in zip(part_grads, full_grads):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
