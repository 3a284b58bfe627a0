"""Numerical parity: converted reference weights + simvtp == reference math.

The reference computation (the authors' release, as REFERENCE_SEMANTICS.md
describes it) is re-stated here with plain torch functions over a
reference-layout state dict built with random weights. That state dict is
saved as the authors save it (``{'model', 'optimizer', 'epoch', 'scaler',
'args'}``), converted with ``reference_to_simvtp``, loaded (strictly) into a
SimVTP configured with the reference's choices, and both compute the four
losses on the same inputs, masks and VTM negatives.
"""
import argparse
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope

import simvtp  # noqa: F401
from simvtp.datasets.transforms.masking import TextMasking, TubeMasking
from simvtp.checkpoint import load_source, reference_to_simvtp
from simvtp.registry import MODELS

# geometry: B clips of T frames at S px, P px patches, tubelet 2
B, T, S, P, TUB = 4, 4, 48, 16, 2
GRID = (T // TUB, S // P, S // P)
N = GRID[0] * GRID[1] * GRID[2]  # 18 tubes
D, HEADS, DEPTH = 32, 4, 2
DD, DHEADS, DDEPTH = 16, 2, 2  # decoder
V, MAXLEN = 50, 16
PAD, CLS, SEP, MASK = 0, 2, 3, 4
IMNET_MEAN = torch.tensor([0.485, 0.456, 0.406])
IMNET_STD = torch.tensor([0.229, 0.224, 0.225])
TEMPERATURE = 0.05
NEGATIVES = torch.tensor([2, 0, 3, 1])  # j != i for every i
REL_TOL = 1e-4


# ------------------------------------------------------------------ weights
def _block_params(g, prefix, dim, out):
    def rnd(*shape, std=0.2):
        return torch.randn(*shape, generator=g) * std

    out[prefix + 'norm1.weight'] = 1 + rnd(dim, std=0.1)
    out[prefix + 'norm1.bias'] = rnd(dim, std=0.1)
    out[prefix + 'attn.q_bias'] = rnd(dim, std=0.3)
    out[prefix + 'attn.v_bias'] = rnd(dim, std=0.3)
    out[prefix + 'attn.qkv.weight'] = rnd(3 * dim, dim, std=dim**-0.5)
    out[prefix + 'attn.proj.weight'] = rnd(dim, dim, std=dim**-0.5)
    out[prefix + 'attn.proj.bias'] = rnd(dim, std=0.1)
    out[prefix + 'norm2.weight'] = 1 + rnd(dim, std=0.1)
    out[prefix + 'norm2.bias'] = rnd(dim, std=0.1)
    out[prefix + 'mlp.fc1.weight'] = rnd(4 * dim, dim, std=dim**-0.5)
    out[prefix + 'mlp.fc1.bias'] = rnd(4 * dim, std=0.1)
    out[prefix + 'mlp.fc2.weight'] = rnd(dim, 4 * dim, std=(4 * dim)**-0.5)
    out[prefix + 'mlp.fc2.bias'] = rnd(dim, std=0.1)


def reference_state_dict(seed=0):
    """Random weights in the authors' pre-training layout."""
    g = torch.Generator().manual_seed(seed)

    def rnd(*shape, std=0.2):
        return torch.randn(*shape, generator=g) * std

    sd = {}
    sd['encoder.patch_embed.proj.weight'] = rnd(D, 3, TUB, P, P, std=0.02)
    sd['encoder.patch_embed.proj.bias'] = rnd(D, std=0.1)
    for i in range(DEPTH):
        _block_params(g, f'encoder.blocks.{i}.', D, sd)
    sd['encoder.norm.weight'] = 1 + rnd(D, std=0.1)
    sd['encoder.norm.bias'] = rnd(D, std=0.1)
    for i in range(DDEPTH):
        _block_params(g, f'decoder.blocks.{i}.', DD, sd)
    sd['decoder.norm.weight'] = 1 + rnd(DD, std=0.1)
    sd['decoder.norm.bias'] = rnd(DD, std=0.1)
    sd['decoder.head.weight'] = rnd(3 * TUB * P * P, DD, std=DD**-0.5)
    sd['decoder.head.bias'] = rnd(3 * TUB * P * P, std=0.1)
    sd['encoder_to_decoder.weight'] = rnd(DD, D, std=D**-0.5)
    sd['mask_token'] = rnd(1, 1, DD, std=0.5)
    word = rnd(V, D, std=0.5)
    word[PAD] = 0
    sd['text_embeddings.word_embeddings.weight'] = word
    sd['text_embeddings.position_embeddings.weight'] = rnd(MAXLEN, D, std=0.5)
    sd['text_embeddings.token_type_embeddings.weight'] = rnd(2, D, std=0.5)
    sd['text_embeddings.LayerNorm.weight'] = 1 + rnd(D, std=0.1)
    sd['text_embeddings.LayerNorm.bias'] = rnd(D, std=0.1)
    sd['text_embeddings.position_ids'] = torch.arange(MAXLEN)[None]
    sd['text_cls.weight'] = rnd(V, D, std=D**-0.5)
    sd['text_cls.bias'] = rnd(V, std=0.1)
    sd['vtm_head.weight'] = rnd(2, D, std=D**-0.5)
    sd['vtm_head.bias'] = rnd(2, std=0.1)
    return sd


# ------------------------------------------------------- reference, restated
def sinusoid(n, dims):
    """(1, n, dims): sin on even, cos on odd channels; float64 then float32."""
    pos = torch.arange(n, dtype=torch.float64).unsqueeze(1)
    rates = torch.tensor([10000.0**(2 * (j // 2) / dims) for j in range(dims)],
                         dtype=torch.float64)
    angle = pos / rates
    table = torch.where(torch.arange(dims) % 2 == 0, angle.sin(), angle.cos())
    return table.float().unsqueeze(0)


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu)**2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def block(R, p, x, additive, heads):
    """Pre-norm block; ``additive`` (B, 1, 1, S) is added to the scores."""
    b, s, dim = x.shape
    hd = dim // heads
    h = layer_norm(x, R[p + 'norm1.weight'], R[p + 'norm1.bias'], 1e-6)
    bias = torch.cat([R[p + 'attn.q_bias'], torch.zeros(dim),
                      R[p + 'attn.v_bias']])
    qkv = h @ R[p + 'attn.qkv.weight'].t() + bias
    qkv = qkv.view(b, s, 3, heads, hd)
    q = qkv[:, :, 0].transpose(1, 2) * hd**-0.5
    k = qkv[:, :, 1].transpose(1, 2)
    v = qkv[:, :, 2].transpose(1, 2)
    scores = torch.einsum('bhqd,bhkd->bhqk', q, k) + additive
    ctx = torch.einsum('bhqk,bhkd->bhqd', torch.softmax(scores, -1), v)
    ctx = ctx.transpose(1, 2).reshape(b, s, dim)
    x = x + ctx @ R[p + 'attn.proj.weight'].t() + R[p + 'attn.proj.bias']
    h = layer_norm(x, R[p + 'norm2.weight'], R[p + 'norm2.bias'], 1e-6)
    h = h @ R[p + 'mlp.fc1.weight'].t() + R[p + 'mlp.fc1.bias']
    h = 0.5 * h * (1 + torch.erf(h / math.sqrt(2)))
    return x + h @ R[p + 'mlp.fc2.weight'].t() + R[p + 'mlp.fc2.bias']


def encoder(R, x, additive):
    for i in range(DEPTH):
        x = block(R, f'encoder.blocks.{i}.', x, additive, HEADS)
    return layer_norm(x, R['encoder.norm.weight'], R['encoder.norm.bias'],
                      1e-6)


def embed_video(R, video):
    x = F.conv3d(video, R['encoder.patch_embed.proj.weight'],
                 R['encoder.patch_embed.proj.bias'], stride=(TUB, P, P))
    x = x.flatten(2).transpose(1, 2)
    return x + sinusoid(x.shape[1], D)


def embed_text(R, ids):
    e = 'text_embeddings.'
    x = R[e + 'word_embeddings.weight'][ids]
    x = x + R[e + 'position_embeddings.weight'][:ids.shape[1]][None]
    x = x + R[e + 'token_type_embeddings.weight'][0]
    return layer_norm(x, R[e + 'LayerNorm.weight'], R[e + 'LayerNorm.bias'],
                      1e-12)


def visible(x, mask):
    return x[~mask].reshape(x.shape[0], -1, x.shape[-1])


def pixel_target(video, mask):
    """Per-patch normalised pixels of the hidden tubes, channel fastest."""
    pix = video * IMNET_STD.view(1, 3, 1, 1, 1) + \
        IMNET_MEAN.view(1, 3, 1, 1, 1)
    b, c = pix.shape[:2]
    t, h, w = GRID
    patches = pix.view(b, c, t, TUB, h, P, w, P)
    patches = patches.permute(0, 2, 4, 6, 3, 5, 7, 1)  # b t h w p0 p1 p2 c
    patches = patches.reshape(b, t * h * w, TUB * P * P, c)
    mu = patches.mean(dim=2, keepdim=True)
    sd = patches.var(dim=2, unbiased=True, keepdim=True).sqrt()
    patches = ((patches - mu) / (sd + 1e-6)).reshape(b, t * h * w, -1)
    return patches[mask].reshape(b, -1, patches.shape[-1])


def cosine_matrix(a, b):
    an = a / a.norm(dim=1, keepdim=True).clamp(min=1e-8)
    bn = b / b.norm(dim=1, keepdim=True).clamp(min=1e-8)
    return an @ bn.t()


def reference_losses(R, video, mask, ids, attn, labels, neg):
    """The four reference losses (fp32, eval: no dropout)."""
    b = video.shape[0]
    text_add = (1.0 - attn.float()) * -10000.0  # (B, L)
    vis = visible(embed_video(R, video), mask)
    nvis = vis.shape[1]
    txt = embed_text(R, ids)
    zeros = torch.zeros(b, nvis)
    # joint pass
    joint = encoder(R, torch.cat([vis, txt], 1),
                    torch.cat([zeros, text_add], 1)[:, None, None, :])
    logits = joint[:, nvis:] @ R['text_cls.weight'].t() + R['text_cls.bias']
    loss_text = F.cross_entropy(logits.reshape(-1, V), labels.reshape(-1),
                                ignore_index=-100)
    # pixel decoder
    table = sinusoid(N, DD).expand(b, -1, -1)
    z = joint[:, :nvis] @ R['encoder_to_decoder.weight'].t()
    z = torch.cat([z + visible(table, mask),
                   R['mask_token'] + table[mask].reshape(b, -1, DD)], 1)
    for i in range(DDEPTH):
        z = block(R, f'decoder.blocks.{i}.', z, torch.zeros(1), DHEADS)
    nmask = int(mask[0].sum())
    pred = layer_norm(z[:, -nmask:], R['decoder.norm.weight'],
                      R['decoder.norm.bias'], 1e-6)
    pred = pred @ R['decoder.head.weight'].t() + R['decoder.head.bias']
    loss_video = ((pred - pixel_target(video, mask))**2).mean()
    # VTC: video-only and text-only passes, padding-including mean pools
    video_feat = encoder(R, vis, zeros[:, None, None, :]).mean(1)
    text_feat = encoder(R, txt, text_add[:, None, None, :]).mean(1)
    sim = cosine_matrix(text_feat, video_feat)  # rows = text
    t2v = torch.diagonal(torch.log_softmax(sim / TEMPERATURE, 1))
    v2t = torch.diagonal(torch.log_softmax(sim.t() / TEMPERATURE, 1))
    loss_vtc = -t2v.mean() - v2t.mean()
    # VTM: positives and negatives re-encoded together
    videos2 = torch.cat([video, video[neg]])
    masks2 = torch.cat([mask, mask[neg]])
    ids2, attn2 = torch.cat([ids, ids]), torch.cat([attn, attn])
    vis2 = visible(embed_video(R, videos2), masks2)
    add2 = torch.cat([torch.zeros(2 * b, nvis), (1.0 - attn2.float()) * -1e4],
                     1)
    fused = encoder(R, torch.cat([vis2, embed_text(R, ids2)], 1),
                    add2[:, None, None, :]).mean(1)
    vtm_logits = fused @ R['vtm_head.weight'].t() + R['vtm_head.bias']
    vtm_labels = torch.cat([torch.ones(b), torch.zeros(b)]).long()
    loss_vtm = F.cross_entropy(vtm_logits, vtm_labels)
    return dict(loss_video=loss_video, loss_text=loss_text, loss_vtc=loss_vtc,
                loss_vtm=loss_vtm)


# -------------------------------------------------------------------- inputs
def make_samples(seed=0, lengths=(9, 6, 11, 7)):
    """Packed samples (as PackVideoTextInputs emits them) drawn with the
    reference's masking choices: tube mask 0.5 (kept small for the tiny
    grid), text all-[MASK] with Bernoulli(0.75) selection."""
    rng = np.random.default_rng(seed)
    tube = TubeMasking(mask_ratio=0.5, tubelet_size=TUB, patch_size=P,
                       seed=seed)
    text = TextMasking(mask_ratio=0.75, strategy='mae', count='bernoulli',
                       seed=seed)
    samples = []
    for i, n in enumerate(lengths):
        video = rng.integers(0, 256, (3, T, S, S), dtype=np.uint8)
        mask = tube(dict(imgs=np.zeros((1, 3, T, S, S)),
                         sample_idx=i))['video_mask']
        ids = np.concatenate([[CLS], rng.integers(5, V, n - 2), [SEP]])
        special = np.zeros(n, dtype=np.int64)
        special[[0, -1]] = 1
        out = text(dict(input_ids=ids, special_tokens_mask=special,
                        mask_token_id=MASK, vocab_size=V, sample_idx=i))
        samples.append(dict(
            video=torch.from_numpy(video), video_mask=torch.from_numpy(mask),
            input_ids=torch.from_numpy(out['input_ids']),
            input_ids_unmasked=torch.from_numpy(out['input_ids_unmasked']),
            attention_mask=torch.ones(n, dtype=torch.long),
            mlm_labels=torch.from_numpy(out['mlm_labels'])))
    return samples


def reference_inputs(samples):
    """The reference's own batching: normalise in [0, 1] units, pad."""
    video = torch.stack([s['video'] for s in samples]).float() / 255.0
    video = (video - IMNET_MEAN.view(1, 3, 1, 1, 1)) / \
        IMNET_STD.view(1, 3, 1, 1, 1)
    mask = torch.stack([s['video_mask'] for s in samples])
    length = max(len(s['input_ids']) for s in samples)

    def pad(key, value):
        out = torch.full((len(samples), length), value, dtype=torch.long)
        for i, s in enumerate(samples):
            out[i, :len(s[key])] = s[key]
        return out

    return (video, mask, pad('input_ids', PAD), pad('attention_mask', 0),
            pad('mlm_labels', -100))


def build_reference_parity_model():
    init_default_scope('simvtp')
    return MODELS.build(dict(
        type='ReferenceFlowSimVTP',
        backbone=dict(type='UnifiedViT',
                      arch=dict(embed_dims=D, num_layers=DEPTH,
                                num_heads=HEADS, mlp_ratio=4),
                      img_size=S, patch_size=P, num_frames=T,
                      tubelet_size=TUB, vocab_size=V, max_text_len=MAXLEN,
                      pad_token_id=PAD, text_dropout=0.0, attn_impl='math'),
        video_decoder=dict(type='VideoMAEDecoder', in_dims=D, embed_dims=DD,
                           depth=DDEPTH, num_heads=DHEADS, patch_size=P,
                           tubelet_size=TUB, attn_impl='math'),
        text_decoder=dict(type='TextDecoder', in_dims=D, vocab_size=V,
                          depth=0),
        pixel_head=dict(type='PixelReconstructionHead', patch_size=P,
                        tubelet_size=TUB, norm_pix=True),
        vtc_head=dict(type='VTCHead', embed_dims=D, temperature=TEMPERATURE,
                      learnable_temperature=False, proj_dims=None,
                      gather=False, symmetric_sum=True),
        vtm_head=dict(type='VTMHead', embed_dims=D, negative='random'),
        objectives=('msm', 'vtc', 'vtm'),
        pooling='mean_with_padding',
        vtc_text='masked',
        drop_masked_text=False))


@pytest.fixture(scope='module')
def converted(tmp_path_factory):
    """The reference weights saved as the authors do, then converted."""
    ref = reference_state_dict()
    path = tmp_path_factory.mktemp('ref') / 'checkpoint-7.pth'
    torch.save(dict(model=ref, optimizer=dict(state={}, param_groups=[]),
                    epoch=7, scaler=dict(scale=65536.0),
                    args=argparse.Namespace(model='pretrain_simvtp',
                                            mask_ratio=0.9, lr=1.5e-4)),
               path)
    state, report = reference_to_simvtp(
        load_source(str(path), reference_globals=True), source=str(path))
    return ref, state, report


def test_reference_layout_converts_cleanly(converted):
    _, state, report = converted
    assert report.missing == {} and report.unexpected == {}
    assert report.lossy == []
    assert 'text_embeddings.position_ids' in report.dropped
    assert report.source_meta['epoch'] == 7
    assert report.source_meta['args']['mask_ratio'] == 0.9
    model = build_reference_parity_model()
    result = model.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys


@pytest.mark.parametrize('mode', ['eval', 'train'])
def test_losses_match_reference(converted, mode, monkeypatch):
    ref, state, _ = converted
    model = build_reference_parity_model()
    model.load_state_dict(state, strict=True)
    model.train(mode == 'train')  # every dropout / drop path is 0
    # the reference flow draws negatives one by one (its own sampler)
    monkeypatch.setattr(model, 'sample_negatives_loop',
                        lambda batch_size, sim=None: NEGATIVES.clone())
    samples = make_samples()
    data = model.data_preprocessor(dict(inputs=samples, data_samples=None),
                                   True)
    got = model(**data, mode='loss')

    video, mask, ids, attn, labels = reference_inputs(samples)
    assert (attn == 0).any(), 'the batch must contain padding'
    assert torch.equal(data['inputs']['input_ids'], ids)
    assert torch.equal(data['inputs']['video_mask'], mask)
    with torch.no_grad():
        expected = reference_losses(ref, video, mask, ids, attn, labels,
                                    NEGATIVES)
    rel = {k: abs(float(got[k]) - float(v)) / abs(float(v))
           for k, v in expected.items()}
    for key, value in expected.items():
        assert torch.isfinite(value) and float(value) > 1e-3, key
    assert all(r < REL_TOL for r in rel.values()), (
        f'relative differences {rel}; simvtp '
        f'{ {k: float(got[k]) for k in expected} } vs reference '
        f'{ {k: float(v) for k, v in expected.items()} }')


def test_parity_detects_a_wrong_conversion(converted, monkeypatch):
    """The comparison is sensitive: swapping q_bias and v_bias breaks it."""
    ref, state, _ = converted
    bad = dict(state)
    bad['backbone.blocks.0.attn.q_bias'] = state[
        'backbone.blocks.0.attn.v_bias']
    bad['backbone.blocks.0.attn.v_bias'] = state[
        'backbone.blocks.0.attn.q_bias']
    model = build_reference_parity_model()
    model.load_state_dict(bad, strict=True)
    model.eval()
    # the reference flow draws negatives one by one (its own sampler)
    monkeypatch.setattr(model, 'sample_negatives_loop',
                        lambda batch_size, sim=None: NEGATIVES.clone())
    samples = make_samples()
    data = model.data_preprocessor(dict(inputs=samples, data_samples=None),
                                   True)
    got = model(**data, mode='loss')
    with torch.no_grad():
        expected = reference_losses(ref, *reference_inputs(samples),
                                    NEGATIVES)
    worst = max(abs(float(got[k]) - float(v)) / abs(float(v))
                for k, v in expected.items())
    assert worst > 1e-3
