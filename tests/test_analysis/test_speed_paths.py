"""The reference flow and the speed paths of SimVTP: same losses and
gradients, less work."""
import pytest
import torch

from simvtp.models.backbones import UnifiedViT
from simvtp.models.layers.tokens import gather_visible, visible_index
from .common import B, N, build, inputs_of, total

#: the reference's flow with its arithmetic (benchmark_train's baseline)
BASELINE = dict(type='ReferenceFlowSimVTP', backbone=dict(attn_impl='math'),
                video_decoder=dict(attn_impl='math'))
#: benchmark_train's optimised backbone options
FAST = dict(backbone=dict(skip_padding=True, attn_impl='auto'),
            video_decoder=dict(attn_impl='auto'))


def losses_and_grads(model, inputs, negatives):
    model.eval()
    model.zero_grad(set_to_none=True)
    model.vtm_head.sample_negatives = lambda *a, **k: negatives.clone()
    model.sample_negatives_loop = lambda *a, **k: negatives.clone()
    losses = model(inputs, mode='loss')
    total(losses).backward()
    del model.vtm_head.sample_negatives, model.sample_negatives_loop
    grads = {n: p.grad.clone() for n, p in model.named_parameters()
             if p.grad is not None}
    return {k: v.detach() for k, v in losses.items()}, grads


def assert_same(a, b, rtol=1e-4, atol=1e-6):
    assert a[0].keys() == b[0].keys() and a[1].keys() == b[1].keys()
    for k in a[0]:
        torch.testing.assert_close(a[0][k], b[0][k], rtol=rtol, atol=atol)
    for k in a[1]:
        torch.testing.assert_close(a[1][k], b[1][k], rtol=rtol, atol=1e-5)


NEGATIVES = torch.tensor([2, 0, 3, 1])


@pytest.mark.parametrize('variant', [
    dict(type='ReferenceFlowSimVTP'), dict(backbone=dict(skip_padding=True)),
    dict(backbone=dict(attn_impl='auto')), BASELINE, FAST])
def test_variant_keeps_losses_and_gradients(variant):
    ref = build()
    other = build(**variant)
    other.load_state_dict(ref.state_dict())
    inputs = inputs_of(ref)
    assert_same(losses_and_grads(ref, inputs, NEGATIVES),
                losses_and_grads(other, inputs, NEGATIVES))


def test_reference_flow_reembeds_the_clip_per_pass(monkeypatch):
    calls = {}
    for kind in ('SimVTP', 'ReferenceFlowSimVTP'):
        model = build(type=kind)
        count = {'full': 0, 'visible': 0}
        for name, key in (('embed_video', 'full'),
                          ('embed_video_visible', 'visible')):
            original = getattr(model.backbone, name)

            def counting(*args, _orig=original, _key=key, **kwargs):
                count[_key] += 1
                return _orig(*args, **kwargs)
            monkeypatch.setattr(model.backbone, name, counting)
        model(inputs_of(model), mode='loss')
        calls[kind] = count
    assert calls == {'SimVTP': {'full': 0, 'visible': 1},
                     'ReferenceFlowSimVTP': {'full': 3, 'visible': 0}}


# ------------------------------------------------------ visible embedding
@pytest.mark.parametrize('shape', [(3, 3, 4, 32, 32), (2, 3, 5, 35, 33)])
def test_visible_embedding_equals_full_embedding_then_gather(shape):
    torch.manual_seed(0)
    bb = UnifiedViT(arch=dict(embed_dims=32, num_layers=1, num_heads=2),
                    img_size=32, patch_size=8, num_frames=4, vocab_size=40)
    bb.init_weights()
    video = torch.randn(shape)
    num = 2 * 4 * 4
    mask = torch.zeros(shape[0], num, dtype=torch.bool)
    for b in range(shape[0]):
        mask[b, torch.randperm(num)[:27]] = True
    full = gather_visible(bb.embed_video(video), mask)
    (full * torch.linspace(-1, 1, full.numel()).view_as(full)).sum() \
        .backward()
    ref_grads = [p.grad.clone() for p in bb.patch_embed.parameters()]
    bb.zero_grad()
    part = bb.embed_video_visible(video, mask)
    (part * torch.linspace(-1, 1, part.numel()).view_as(part)).sum() \
        .backward()
    torch.testing.assert_close(part, full, rtol=1e-5, atol=1e-5)
    for g, p in zip(ref_grads, bb.patch_embed.parameters()):
        torch.testing.assert_close(p.grad, g, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(bb.embed_video_visible(video, mask, 5), part)
    with pytest.raises(ValueError, match='tubes'):
        bb.embed_video_visible(video, mask[:, :-1])


def test_visible_index():
    mask = torch.tensor([[True, False, True, False], [False, False, True,
                                                      True]])
    assert visible_index(mask).tolist() == [[1, 3], [0, 1]]
    assert visible_index(mask, 2).tolist() == [[1, 3], [0, 1]]
    with pytest.raises(RuntimeError, match='visible'):
        visible_index(mask, 3)
    bad = torch.tensor([[True, False], [False, False]])
    with pytest.raises(ValueError, match='same number'):
        visible_index(bad)


# ------------------------------------------------------- padding skipping
@pytest.mark.parametrize('with_cp', [False, True])
def test_skip_padding_equals_padded_encoding(with_cp):
    torch.manual_seed(0)
    bb = UnifiedViT(arch=dict(embed_dims=32, num_layers=2, num_heads=2),
                    img_size=32, patch_size=8, num_frames=4, vocab_size=40,
                    with_cp=with_cp, text_dropout=0.0)
    bb.init_weights()
    video = torch.randn(3, 5, 32)
    text = bb.embed_text(torch.randint(5, 40, (3, 6)))
    mask = torch.ones(3, 6, dtype=torch.long)
    mask[0, 4:] = 0
    mask[2, 1:] = 0
    weights = torch.randn(3, 11, 32)
    results = []
    for skip in (False, True):
        for v in (video, None):
            bb.zero_grad()
            v_out, t_out = bb.encode(v, text, mask, skip_padding=skip)
            t_out = t_out * mask[..., None]  # padded outputs are unread
            out = t_out if v is None else torch.cat([v_out, t_out], 1)
            (out * weights[:, :out.shape[1]]).sum().backward(
                retain_graph=True)
            results.append((out.detach(), [p.grad.clone() for p in
                                           bb.blocks.parameters()]))
    for (a, ga), (b, gb) in zip(results[:2], results[2:]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
        for x, y in zip(ga, gb):
            torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-5)


def test_skip_padding_with_drop_path_trains_and_needs_mean_pooling():
    model = build(backbone=dict(skip_padding=True,
                                drop_path_rate=0.5)).train()
    losses = model(inputs_of(model), mode='loss')
    total(losses).backward()
    assert torch.isfinite(total(losses))
    with pytest.raises(ValueError, match='skip_padding=True needs'):
        build(backbone=dict(skip_padding=True), pooling='mean_with_padding')


# ---------------------------------------------------------- loop sampling
def test_loop_sampling_draws_valid_negatives():
    model = build(type='ReferenceFlowSimVTP')
    torch.manual_seed(0)
    draws = torch.stack([model.sample_negatives_loop(5)
                         for _ in range(300)])
    assert draws.dtype == torch.long and draws.shape == (300, 5)
    assert (draws != torch.arange(5)).all()
    for i in range(5):  # every other clip is drawn
        assert set(draws[:, i].tolist()) == set(range(5)) - {i}
    assert model.sample_negatives_loop(2).tolist() == [1, 0]
    hard = build(type='ReferenceFlowSimVTP',
                 vtm_head=dict(negative='hard'))
    sim = torch.full((4, 4), -30.0)
    sim[torch.arange(4), (torch.arange(4) + 1) % 4] = 30.0
    assert hard.sample_negatives_loop(4, sim).tolist() == [1, 2, 3, 0]


# -------------------------------------------------------- decoder masking
def test_decoder_keep_ratio_decodes_a_random_subset_of_hidden_tubes():
    model = build(decoder_keep_ratio=0.5)
    inputs = inputs_of(model)
    mask = inputs['video_mask']
    num_vis = int((~mask[0]).sum())
    num_hidden = N - num_vis
    dm = model._decode_mask(mask, num_vis)
    assert dm.shape == mask.shape and dm.dtype == torch.bool
    assert not (dm & ~mask).any()
    assert dm.sum(1).tolist() == [round(0.5 * num_hidden)] * B
    assert not torch.equal(dm, model._decode_mask(mask, num_vis))  # random
    assert build()._decode_mask(mask, num_vis) is None

    # the pixel loss covers exactly the decoded tubes
    captured = {}
    original = model.pixel_head.loss

    def spy(pred, video, m):
        captured.update(pred=pred, mask=m)
        return original(pred, video, m)
    model.pixel_head.loss = spy
    losses = model(inputs, mode='loss')
    assert captured['pred'].shape[1] == round(0.5 * num_hidden)
    assert captured['mask'].sum(1).tolist() == [round(0.5 * num_hidden)] * B
    assert torch.isfinite(losses['loss_video'])
    total(losses).backward()


def test_decoder_keep_ratio_with_shared_decoder_and_validation():
    model = build(decoder_keep_ratio=0.25,
                  shared_decoder=dict(type='SharedVideoTextDecoder',
                                      in_dims=32, vocab_size=40, patch_size=8,
                                      embed_dims=16, depth=1, num_heads=1))
    losses = model(inputs_of(model), mode='loss')
    assert torch.isfinite(total(losses))
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match='decoder_keep_ratio'):
            build(decoder_keep_ratio=bad)


# ------------------------------------------------------------ attention
def test_auto_attention_under_bf16_on_cpu_matches_sdpa():
    from simvtp.models.layers.transformer import Attention
    torch.manual_seed(0)
    sdpa = Attention(64, num_heads=2, attn_impl='sdpa')
    auto = Attention(64, num_heads=2, attn_impl='auto')
    auto.load_state_dict(sdpa.state_dict())
    x = torch.randn(3, 9, 64)
    mask = torch.ones(3, 9, dtype=torch.bool)
    mask[1, -3:] = False
    torch.testing.assert_close(auto(x, mask), sdpa(x, mask))  # fp32: sdpa
    with torch.autocast('cpu', dtype=torch.bfloat16):
        a, b = auto(x, mask), sdpa(x, mask)
    assert a.dtype == torch.bfloat16
    torch.testing.assert_close(a.float(), b.float(), rtol=3e-2, atol=3e-2)
