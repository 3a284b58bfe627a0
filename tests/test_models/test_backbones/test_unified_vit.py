"""Tests of the unified video-text ViT encoder."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import simvtp  # noqa: F401
from simvtp.models.backbones import UnifiedViT
from simvtp.registry import MODELS

TINY = dict(embed_dims=32, num_layers=2, num_heads=4)


def _numpy_sincos(num, dims):
    table = np.zeros((num, dims), dtype=np.float64)
    for pos in range(num):
        for j in range(dims):
            angle = pos / 10000.0**(2 * (j // 2) / dims)
            table[pos, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    return torch.from_numpy(table.astype(np.float32))


def _tiny(**kwargs):
    cfg = dict(arch=TINY, img_size=32, patch_size=16, num_frames=4,
               tubelet_size=2, vocab_size=50, max_text_len=16,
               text_dropout=0.0)
    cfg.update(kwargs)
    torch.manual_seed(0)
    model = UnifiedViT(**cfg)
    model.init_weights()
    with torch.no_grad():
        for blk in model.blocks:  # non-zero q/v biases exercise the layout
            blk.attn.q_bias.normal_(std=0.1)
            blk.attn.v_bias.normal_(std=0.1)
    return model


def _count_encoder_params(dims, layers, patch=16, tubelet=2, chans=3):
    """Independent count of the encoder weights (no text embeddings)."""
    embed = dims * chans * tubelet * patch * patch + dims
    block = (2 * 2 * dims  # two LayerNorms
             + 3 * dims * dims + 2 * dims  # qkv weight + q/v bias
             + dims * dims + dims  # proj
             + dims * 4 * dims + 4 * dims  # fc1
             + 4 * dims * dims + dims)  # fc2
    return embed + layers * block + 2 * dims


# ----------------------------------------------------------------- presets
@pytest.mark.parametrize('arch,dims,layers,heads,approx', [
    ('tiny', 192, 12, 3, 5.6e6),
    ('small', 384, 12, 6, 21.9e6),
    ('base', 768, 12, 12, 86.2e6),
    ('large', 1024, 24, 16, 303.3e6),
])
def test_presets(arch, dims, layers, heads, approx):
    # Built on the meta device: no memory or init cost, real shapes.
    with torch.device('meta'):
        model = UnifiedViT(arch=arch, vocab_size=30522)
    assert (model.embed_dims, model.num_layers, model.num_heads) == \
        (dims, layers, heads)
    assert len(model.blocks) == layers
    assert model.grid_size == (8, 14, 14) and model.num_patches == 1568
    blk = model.blocks[0]
    assert blk.attn.qkv.weight.shape == (3 * dims, dims)
    assert blk.attn.num_heads == heads
    assert blk.mlp.fc1.weight.shape == (4 * dims, dims)
    assert model.patch_embed.proj.weight.shape == (dims, 3, 2, 16, 16)
    assert model.text_embeddings.word_embeddings.weight.shape == (30522,
                                                                  dims)
    n_enc = sum(p.numel() for n, p in model.named_parameters()
                if not n.startswith('text_embeddings.'))
    assert n_enc == _count_encoder_params(dims, layers)
    assert abs(n_enc - approx) / approx < 0.01


def test_small_real_construction():
    model = UnifiedViT(arch='small', img_size=32, num_frames=4,
                       vocab_size=10, max_text_len=8)
    assert model.blocks[0].norm1.weight.shape == (384, )
    assert model.norm.eps == 1e-6
    assert model.text_embeddings.LayerNorm.eps == 1e-12
    assert model.grid_size == (2, 2, 2) and model.num_patches == 8


def test_bad_arch():
    with pytest.raises(KeyError):
        UnifiedViT(arch='huge')
    with pytest.raises(KeyError):
        UnifiedViT(arch=dict(embed_dims=32, num_layers=1))


def test_registry_build():
    model = MODELS.build(
        dict(type='UnifiedViT', arch='tiny', img_size=32, num_frames=4,
             vocab_size=20, max_text_len=8))
    assert isinstance(model, UnifiedViT) and model.embed_dims == 192
    assert MODELS.get('UnifiedViT') is UnifiedViT
    assert MODELS.scope == 'simvtp'


# ------------------------------------------------------------ embeddings
def test_fixed_video_pos_not_in_state_dict_and_added():
    model = _tiny().eval()
    keys = set(model.state_dict())
    assert not any('pos' in k and 'position_embeddings' not in k
                   for k in keys), keys
    assert 'patch_embed.proj.weight' in keys
    video = torch.randn(2, 3, 4, 32, 32)
    out = model.embed_video(video)
    conv = F.conv3d(video, model.patch_embed.proj.weight,
                    model.patch_embed.proj.bias, stride=(2, 16, 16))
    # token order: (t', h', w') of the conv output
    tokens = conv.reshape(2, 32, -1).transpose(1, 2)
    torch.testing.assert_close(out, tokens + _numpy_sincos(8, 32))


def test_learnable_video_pos_in_state_dict():
    model = _tiny(learnable_video_pos=True)
    sd = model.state_dict()
    assert sd['video_pos_embed'].shape == (1, 8, 32)
    assert model.no_weight_decay() == {'video_pos_embed'}
    assert _tiny().no_weight_decay() == set()


@pytest.mark.parametrize('learnable', [False, True])
def test_embed_video_other_size(learnable):
    model = _tiny(learnable_video_pos=learnable).eval()
    video = torch.randn(1, 3, 8, 48, 64)  # grid (4, 3, 4) vs configured 2x2x2
    out = model.embed_video(video)
    assert out.shape == (1, 4 * 3 * 4, 32)
    conv = F.conv3d(video, model.patch_embed.proj.weight,
                    model.patch_embed.proj.bias, stride=(2, 16, 16))
    tokens = conv.reshape(1, 32, -1).transpose(1, 2)
    pos = out - tokens
    if not learnable:
        torch.testing.assert_close(pos[0], _numpy_sincos(48, 32))
    else:
        # Make the table vary only over t': every new (h', w') location in
        # one frame must then get the same value.
        with torch.no_grad():
            t_vals = torch.randn(2, 1, 1, 32)
            model.video_pos_embed.copy_(
                t_vals.expand(2, 2, 2, 32).reshape(1, 8, 32))
        pos = (model.embed_video(video) - tokens).reshape(4, 12, 32)
        for t in range(4):
            torch.testing.assert_close(pos[t], pos[t, :1].expand(12, 32))
    # and the same model still handles the configured size
    assert model.embed_video(torch.randn(1, 3, 4, 32, 32)).shape == (1, 8,
                                                                     32)


def test_embed_text_bert_style():
    model = _tiny().eval()
    ids = torch.tensor([[5, 7, 9, 0]])
    out = model.embed_text(ids)
    emb = model.text_embeddings
    ref = (emb.word_embeddings.weight[ids[0]] +
           emb.position_embeddings.weight[:4] +
           emb.token_type_embeddings.weight[0])
    ref = F.layer_norm(ref, (32, ), emb.LayerNorm.weight, emb.LayerNorm.bias,
                       1e-12)
    torch.testing.assert_close(out[0], ref)
    with pytest.raises(ValueError, match='max_text_len'):
        model.embed_text(torch.zeros(1, 17, dtype=torch.long))


def test_init_weights():
    model = _tiny()
    model.init_weights()
    emb = model.text_embeddings
    assert torch.all(emb.word_embeddings.weight[0] == 0)
    assert emb.word_embeddings.weight[1:].std().item() == pytest.approx(
        0.02, rel=0.2)
    blk = model.blocks[0]
    assert torch.all(blk.attn.q_bias == 0) and torch.all(blk.mlp.fc1.bias == 0)
    assert torch.all(blk.norm1.weight == 1)
    bound = math.sqrt(6.0 / (32 + 128))
    assert blk.mlp.fc1.weight.abs().max().item() <= bound
    w = model.patch_embed.proj.weight
    fan_in = 3 * 2 * 16 * 16
    assert w.abs().max().item() <= math.sqrt(6.0 / (fan_in + 32))
    assert w.abs().max().item() > 0.5 * math.sqrt(6.0 / (fan_in + 32))


def test_init_cfg_pretrained(tmp_path):
    src = _tiny()
    ckpt = tmp_path / 'enc.pth'
    torch.save({'state_dict': src.state_dict()}, ckpt)
    model = UnifiedViT(arch=TINY, img_size=32, num_frames=4, vocab_size=50,
                       max_text_len=16,
                       init_cfg=dict(type='Pretrained',
                                     checkpoint=str(ckpt)))
    model.init_weights()
    for k, v in src.state_dict().items():
        torch.testing.assert_close(model.state_dict()[k], v)


# -------------------------------------------------------------- encoding
def _padded_batch():
    ids = torch.tensor([[3, 8, 12, 4, 9, 2], [6, 11, 5, 0, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]])
    return ids, mask, [6, 3]


@pytest.mark.parametrize('impl', ['sdpa', 'math'])
def test_padding_mask_equals_unpadded(impl):
    model = _tiny(attn_impl=impl).eval()
    ids, mask, lengths = _padded_batch()
    video = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        v_tok = model.embed_video(video)
        t_tok = model.embed_text(ids)
        v_out, t_out = model.encode(v_tok, t_tok, mask)
        t_only = model.encode(None, t_tok, mask)[1]
        for b, n in enumerate(lengths):
            v_ref, t_ref = model.encode(v_tok[b:b + 1], t_tok[b:b + 1, :n])
            torch.testing.assert_close(v_out[b], v_ref[0], atol=1e-5,
                                       rtol=1e-5)
            torch.testing.assert_close(t_out[b, :n], t_ref[0], atol=1e-5,
                                       rtol=1e-5)
            t_ref_only = model.encode(None, t_tok[b:b + 1, :n])[1]
            torch.testing.assert_close(t_only[b, :n], t_ref_only[0],
                                       atol=1e-5, rtol=1e-5)


def test_math_equals_sdpa():
    model_a = _tiny(attn_impl='sdpa').eval()
    model_b = _tiny(attn_impl='math').eval()
    model_b.load_state_dict(model_a.state_dict())
    ids, mask, _ = _padded_batch()
    video = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        for m in (None, mask):
            a = model_a(video, ids, m)
            b = model_b(video, ids, m)
            for x, y in zip(a, b):
                torch.testing.assert_close(x, y, atol=1e-5, rtol=1e-5)


def test_encode_modes_and_errors():
    model = _tiny().eval()
    v = torch.randn(2, 8, 32)
    t = torch.randn(2, 5, 32)
    assert model.encode(v, None)[1] is None
    assert model.encode(None, t)[0] is None
    vo, to = model.encode(v, t)
    assert vo.shape == (2, 8, 32) and to.shape == (2, 5, 32)
    with pytest.raises(ValueError):
        model.encode(v, t[:1])
    with pytest.raises(ValueError):
        model.encode(None, None)
    # the all-valid mask is dropped: identical to passing no mask
    torch.testing.assert_close(
        model.encode(v, t, torch.ones(2, 5))[1], to)


@pytest.mark.parametrize('skip_padding', [False, True])
def test_text_outputs_only_equal_the_full_pass(skip_padding):
    """text_outputs_only: no video outputs, the caption's real tokens as the
    full joint pass gives them (the last block computes them alone)."""
    model = _tiny(skip_padding=skip_padding).eval()
    ids, mask, _ = _padded_batch()
    v_tok = model.embed_video(torch.randn(2, 3, 4, 32, 32))
    t_tok = model.embed_text(ids)
    with torch.no_grad():
        _, full = model.encode(v_tok, t_tok, mask)
        none, text = model.encode(v_tok, t_tok, mask, text_outputs_only=True)
    assert none is None and text.shape == full.shape
    real = mask.bool()
    torch.testing.assert_close(text[real], full[real], atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match='needs text_tokens'):
        model.encode(v_tok, None, text_outputs_only=True)


def test_forward_with_video_mask_keeps_visible_tokens():
    model = _tiny().eval()
    video = torch.randn(2, 3, 4, 32, 32)
    mask = torch.tensor([[True, False, True, True, False, True, False, True],
                         [False, True, True, True, True, False, False, True]])
    with torch.no_grad():
        out, text = model(video, video_mask=mask)
        assert text is None and out.shape == (2, 3, 32)
        full = model.embed_video(video)
        for b in range(2):
            idx = [i for i in range(8) if not mask[b, i]]
            ref = model.encode(full[b:b + 1, idx])[0]
            torch.testing.assert_close(out[b], ref[0], atol=1e-5, rtol=1e-5)
        _, text = model(text_ids=torch.tensor([[1, 2, 3]]))
        assert text.shape == (1, 3, 32)


def test_with_cp_same_outputs_and_grads():
    kwargs = dict(drop_path_rate=0.3, text_dropout=0.1)
    model_a = _tiny(with_cp=False, **kwargs).train()
    model_b = _tiny(with_cp=True, **kwargs).train()
    model_b.load_state_dict(model_a.state_dict())
    ids, mask, _ = _padded_batch()
    video = torch.randn(2, 3, 4, 32, 32)
    results = []
    for model in (model_a, model_b):
        torch.manual_seed(123)
        v, t = model(video, ids, mask)
        loss = v.pow(2).sum() + t.sum()
        loss.backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters()
                 if p.grad is not None}
        results.append((v.detach(), t.detach(), grads))
    (va, ta, ga), (vb, tb, gb) = results
    torch.testing.assert_close(va, vb)
    torch.testing.assert_close(ta, tb)
    assert ga.keys() == gb.keys() and len(ga) > 0
    for n in ga:
        torch.testing.assert_close(ga[n], gb[n], atol=1e-5, rtol=1e-5)
