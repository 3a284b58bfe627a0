import socket
from datetime import timedelta

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from simvtp.models.heads import (MLMHead, PixelReconstructionHead, VTCHead,
                                 VTMHead)
from simvtp.models.utils import (all_gather_with_grad, get_rank_and_world,
                                 masked_mean)
from simvtp.registry import MODELS

# ---------------------------------------------------------------------------
# utils
# ---------------------------------------------------------------------------

# input normalisation (x * 255 + 0) / 255: the heads' input is pixels in [0, 1]
PIXELS = dict(mean=(0.0, 0.0, 0.0), std=(255.0, 255.0, 255.0))


def test_masked_mean():
    tokens = torch.arange(2 * 4 * 3, dtype=torch.float32).view(2, 4, 3)
    valid = torch.tensor([[1, 1, 0, 0], [1, 0, 1, 1]], dtype=torch.bool)
    out = masked_mean(tokens, valid)
    expected = torch.stack([
        (tokens[0, 0] + tokens[0, 1]) / 2,
        (tokens[1, 0] + tokens[1, 2] + tokens[1, 3]) / 3,
    ])
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(masked_mean(tokens, valid.long()), expected)
    torch.testing.assert_close(masked_mean(tokens), tokens.mean(1))


def test_all_gather_single_process_is_identity():
    x = torch.randn(3, 4)
    assert all_gather_with_grad(x) is x
    assert get_rank_and_world() == (0, 1)


# ---------------------------------------------------------------------------
# PixelReconstructionHead
# ---------------------------------------------------------------------------


def loop_target(video, mask, t, p, norm):
    """Independent per-patch computation with explicit indices (numpy)."""
    video = video.double().numpy()
    mask = mask.numpy()
    b_, c_, t_, h_, w_ = video.shape
    gt, gh, gw = t_ // t, h_ // p, w_ // p
    out = []
    for b in range(b_):
        rows = []
        token = 0
        for it in range(gt):
            for ih in range(gh):
                for iw in range(gw):
                    patch = np.empty((t, p, p, c_))
                    for dt in range(t):
                        for dy in range(p):
                            for dx in range(p):
                                for c in range(c_):
                                    patch[dt, dy, dx, c] = video[
                                        b, c, it * t + dt, ih * p + dy,
                                        iw * p + dx]
                    if norm:
                        for c in range(c_):
                            vals = patch[..., c]
                            patch[..., c] = (vals - vals.mean()) / (
                                vals.std(ddof=1) + 1e-6)
                    if mask[b, token]:
                        rows.append(patch.reshape(-1))
                    token += 1
        out.append(np.stack(rows))
    return torch.from_numpy(np.stack(out)).float()


def random_mask(b, n, k, seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = torch.zeros(b, n, dtype=torch.bool)
    for i in range(b):
        mask[i, torch.randperm(n, generator=g)[:k]] = True
    return mask


@pytest.mark.parametrize('norm_pix', [True, False])
def test_pixel_target_against_loops(norm_pix):
    torch.manual_seed(0)
    head = PixelReconstructionHead(patch_size=4, tubelet_size=2, **PIXELS,
                                   norm_pix=norm_pix)
    video = torch.rand(2, 3, 4, 8, 12)  # grid (2, 2, 3): N = 12
    mask = random_mask(2, 12, 7)
    target = head.target(video, mask)
    assert target.shape == (2, 7, 2 * 4 * 4 * 3)
    expected = loop_target(video, mask, t=2, p=4, norm=norm_pix)
    torch.testing.assert_close(target, expected, rtol=1e-4, atol=1e-4)


def test_pixel_target_default_sizes():
    torch.manual_seed(1)
    head = PixelReconstructionHead(**PIXELS)  # 16 px, tubelet 2, norm_pix
    video = torch.rand(1, 3, 4, 32, 32)  # grid (2, 2, 2)
    mask = torch.tensor([[True, False, False, True, False, True, True,
                          False]])
    torch.testing.assert_close(
        head.target(video, mask),
        loop_target(video, mask, t=2, p=16, norm=True),
        rtol=1e-4, atol=1e-4)


def test_pixel_loss():
    torch.manual_seed(0)
    head = MODELS.build(dict(type='PixelReconstructionHead', patch_size=4,
                             tubelet_size=2, loss_weight=0.5, **PIXELS))
    video = torch.rand(2, 3, 4, 8, 8)
    mask = random_mask(2, 8, 5)
    pred = torch.randn(2, 5, 96, requires_grad=True)
    losses = head.loss(pred, video, mask)
    assert set(losses) == {'loss_video'}
    expected = loop_target(video, mask, t=2, p=4, norm=True)
    ref = ((pred.detach() - expected)**2).mean() * 0.5
    torch.testing.assert_close(losses['loss_video'], ref, rtol=1e-4,
                               atol=1e-5)
    losses['loss_video'].backward()
    assert pred.grad is not None
    # 4 predictions for 5 hidden tubes: the count check runs on the
    # device (no host sync), so it surfaces as a RuntimeError
    with pytest.raises(RuntimeError, match='5|4 masked'):
        head.loss(pred[:, :4], video, mask)


def test_pixel_head_owns_the_input_normalisation():
    """The head un-normalises the model's input with its own mean/std: the
    loss on a normalised clip equals the loss on its pixels (PIXELS)."""
    from simvtp.models.data_preprocessors import VideoTextDataPreprocessor
    torch.manual_seed(0)
    pixels = torch.randint(0, 256, (2, 3, 4, 8, 8)).float()
    normalised = VideoTextDataPreprocessor().normalize(pixels)
    head = PixelReconstructionHead(patch_size=4, tubelet_size=2,
                                   norm_pix=False)  # ImageNet's mean/std
    torch.testing.assert_close(head.to_pixels(normalised), pixels / 255)
    mask = random_mask(2, 8, 5)
    pred = torch.rand(2, 5, 96)
    plain = PixelReconstructionHead(patch_size=4, tubelet_size=2,
                                    norm_pix=False, **PIXELS)
    torch.testing.assert_close(head.loss(pred, normalised, mask),
                               plain.loss(pred, pixels / 255, mask))


def test_patchify_roundtrip():
    head = PixelReconstructionHead(patch_size=4, tubelet_size=2, **PIXELS)
    video = torch.randn(2, 3, 6, 8, 12)
    patches = head.patchify(video)
    assert patches.shape == (2, 3 * 2 * 3, 96)
    assert torch.equal(head.unpatchify(patches, (3, 2, 3)), video)
    # layout: first value of token 1 (t'=0, h'=0, w'=1) is pixel
    # (c=0, t=0, y=0, x=4); the second is channel 1 of that pixel
    assert patches[0, 1, 0] == video[0, 0, 0, 0, 4]
    assert patches[0, 1, 1] == video[0, 1, 0, 0, 4]


def test_reconstruct():
    torch.manual_seed(0)
    head = PixelReconstructionHead(patch_size=4, tubelet_size=2, **PIXELS)
    video = torch.rand(2, 3, 4, 8, 8)  # N = 8
    mask = random_mask(2, 8, 5)
    pred = torch.randn(2, 5, 96)
    out = head.reconstruct(pred, video, mask)
    assert out.shape == video.shape
    assert out.min() >= 0 and out.max() <= 1
    # visible pixels are kept (up to the un-normalisation's rounding)
    pixel_mask = mask.view(2, 2, 2, 2)  # (b, t', h', w')
    pixel_mask = pixel_mask.repeat_interleave(2, 1).repeat_interleave(
        4, 2).repeat_interleave(4, 3)[:, None].expand_as(video)
    torch.testing.assert_close(out[~pixel_mask], video[~pixel_mask],
                               atol=1e-6, rtol=0)
    # the hidden ground truth does not leak
    changed = video.clone()
    changed[pixel_mask] = torch.rand(int(pixel_mask.sum()))
    assert torch.equal(head.reconstruct(pred, changed, mask), out)
    # ... but it does with use_target_stats
    assert not torch.equal(
        head.reconstruct(pred, changed, mask, use_target_stats=True),
        head.reconstruct(pred, video, mask, use_target_stats=True))

    # pred = 0 gives the visible pixels' per-channel mean, pred = 1 mean + std
    for b in range(2):
        for c in range(3):
            vis = video[b, c][~pixel_mask[b, c]].double()
            mean, std = vis.mean(), vis.std()  # unbiased
            zero = head.reconstruct(torch.zeros_like(pred), video, mask)
            one = head.reconstruct(torch.ones_like(pred), video, mask)
            hid = pixel_mask[b, c]
            torch.testing.assert_close(zero[b, c][hid].double(),
                                       mean.expand(int(hid.sum())))
            torch.testing.assert_close(
                one[b, c][hid].double(),
                (mean + std + 1e-6).clamp(max=1).expand(int(hid.sum())),
                rtol=1e-5, atol=1e-5)

    # use_target_stats: the normalised target maps back to the truth
    target = head.target(video, mask)
    torch.testing.assert_close(
        head.reconstruct(target, video, mask, use_target_stats=True), video)
    # without norm_pix the prediction is raw pixels
    raw = PixelReconstructionHead(patch_size=4, tubelet_size=2, **PIXELS,
                                  norm_pix=False)
    torch.testing.assert_close(
        raw.reconstruct(raw.target(video, mask), video, mask), video)


# ---------------------------------------------------------------------------
# MLMHead
# ---------------------------------------------------------------------------


def test_mlm_head():
    torch.manual_seed(0)
    head = MLMHead(loss_weight=2.0)
    logits = torch.randn(2, 5, 11, requires_grad=True)
    labels = torch.full((2, 5), -100)
    labels[0, 1], labels[1, 3], labels[1, 4] = 3, 7, 0
    out = head.loss(logits, labels)
    assert set(out) == {'loss_text'}
    rows = torch.stack([logits[0, 1], logits[1, 3], logits[1, 4]])
    ref = F.cross_entropy(rows, torch.tensor([3, 7, 0])) * 2.0
    torch.testing.assert_close(out['loss_text'], ref)
    # selected rows only (K, V)
    torch.testing.assert_close(
        head.loss(rows, torch.tensor([3, 7, 0]))['loss_text'], ref)
    # nothing selected: zero, finite, and backward works
    empty = head.loss(logits, torch.full((2, 5), -100))['loss_text']
    assert torch.isfinite(empty) and empty.item() == 0
    empty.backward()
    assert logits.grad is not None and torch.all(logits.grad == 0)


# ---------------------------------------------------------------------------
# VTCHead
# ---------------------------------------------------------------------------


def reference_vtc(video, text, temperature=0.05):
    """SimVTP reference: rows = text, only the local batch."""
    sim = torch.zeros(len(text), len(video))
    for i in range(len(text)):
        for j in range(len(video)):
            sim[i, j] = torch.dot(text[i], video[j]) / (
                text[i].norm() * video[j].norm())
    t2v = -torch.diagonal(torch.log_softmax(sim / temperature, dim=1)).mean()
    v2t = -torch.diagonal(torch.log_softmax(sim.t() / temperature,
                                            dim=1)).mean()
    return t2v, v2t


@pytest.mark.parametrize('learnable', [True, False])
def test_vtc_head_single_process(learnable):
    torch.manual_seed(0)
    video, text = torch.randn(6, 16), torch.randn(6, 16)
    t2v, v2t = reference_vtc(video, text)
    mean_head = VTCHead(embed_dims=16, learnable_temperature=learnable)
    sum_head = VTCHead(embed_dims=16, learnable_temperature=learnable,
                       symmetric_sum=True, loss_weight=3.0)
    out = mean_head.loss(video, text)
    assert set(out) == {'loss_vtc', 'vtc_temperature'}
    torch.testing.assert_close(out['loss_vtc'], 0.5 * (t2v + v2t))
    torch.testing.assert_close(out['vtc_temperature'], torch.tensor(0.05))
    assert not out['vtc_temperature'].requires_grad
    torch.testing.assert_close(
        sum_head.loss(video, text)['loss_vtc'], 3.0 * (t2v + v2t))
    assert mean_head.last_logits_shape == (6, 6)
    if learnable:
        out['loss_vtc'].backward()
        grad = mean_head.logit_scale.grad
        assert grad is not None and grad.abs() > 0
    else:
        assert 'logit_scale' not in dict(mean_head.named_parameters())


def test_vtc_head_projection_and_clamp():
    head = VTCHead(embed_dims=8, proj_dims=4, temperature=0.001)
    assert head.video_proj.out_features == 4
    video, text = head(torch.randn(3, 8), torch.randn(3, 8))
    torch.testing.assert_close(video.norm(dim=1), torch.ones(3))
    out = head.loss(torch.randn(3, 8), torch.randn(3, 8))
    # 1 / 0.001 = 1000 is clamped to max_logit_scale = 100
    torch.testing.assert_close(out['vtc_temperature'], torch.tensor(0.01))


def test_vtc_head_is_float32_under_autocast():
    """Under (CPU, bf16) autocast the embeddings, the logits and therefore
    the loss are those of float32: bf16 logits of scale 20 keep only ~3
    significant digits."""
    torch.manual_seed(0)
    head = VTCHead(embed_dims=64, proj_dims=32)
    video = torch.randn(16, 64) + 2.0
    text = torch.randn(16, 64) + 2.0
    ref = head.loss(video, text)['loss_vtc']
    with torch.autocast('cpu', dtype=torch.bfloat16):
        loss = head.loss(video, text)['loss_vtc']
    torch.testing.assert_close(loss, ref, rtol=1e-6, atol=1e-6)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        v, t = head(video, text)
        logits = head.similarity(v, t)
    assert v.dtype == t.dtype == logits.dtype == torch.float32
    expected = (torch.nn.functional.normalize(head.text_proj(text), dim=-1)
                @ torch.nn.functional.normalize(head.video_proj(video),
                                                dim=-1).t()) / 0.05
    torch.testing.assert_close(logits, expected, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------
# VTMHead
# ---------------------------------------------------------------------------


def test_vtm_random_negatives():
    head = VTMHead(embed_dims=8)
    g = torch.Generator().manual_seed(0)
    counts = torch.zeros(5, 5)
    for _ in range(400):
        neg = head.sample_negatives(5, generator=g)
        assert neg.dtype == torch.long and neg.shape == (5, )
        assert torch.all((neg >= 0) & (neg < 5))
        assert torch.all(neg != torch.arange(5))
        counts[torch.arange(5), neg] += 1
    # roughly uniform over the 4 other indices (100 expected per cell)
    off_diag = counts[~torch.eye(5, dtype=torch.bool)]
    assert off_diag.min() > 60 and off_diag.max() < 140
    assert head.sample_negatives(2).tolist() == [1, 0]
    with pytest.raises(ValueError, match='at least 2'):
        head.sample_negatives(1)


def test_vtm_hard_negatives():
    head = VTMHead(embed_dims=8, negative='hard')
    g = torch.Generator().manual_seed(0)
    sim = torch.zeros(6, 6)
    sim[:, 2] = 10.0  # column 2 dominates (but is excluded for text 2)
    sim[2, 2] = 100.0
    picks = torch.stack(
        [head.sample_negatives(6, sim, generator=g) for _ in range(200)])
    assert torch.all(picks != torch.arange(6))
    assert torch.all((picks >= 0) & (picks < 6))
    others = picks[:, [0, 1, 3, 4, 5]]
    assert (others == 2).float().mean() > 0.95
    # text 2 cannot pick itself: uniform over the rest
    assert set(picks[:, 2].tolist()) <= {0, 1, 3, 4, 5}
    with pytest.raises(ValueError):
        head.sample_negatives(6)  # hard needs sim
    with pytest.raises(ValueError):
        head.sample_negatives(1, torch.zeros(1, 1))


def test_vtm_loss_and_forward():
    torch.manual_seed(0)
    head = VTMHead(embed_dims=8, loss_weight=0.5)
    pos, neg = torch.randn(3, 8), torch.randn(5, 8)
    out = head.loss(pos, neg)
    assert set(out) == {'loss_vtm', 'vtm_acc'}
    logits = head.fc(torch.cat([pos, neg]))
    labels = torch.tensor([1, 1, 1, 0, 0, 0, 0, 0])
    torch.testing.assert_close(out['loss_vtm'],
                               0.5 * F.cross_entropy(logits, labels))
    acc = sum(int(logits[i].argmax() == labels[i]) for i in range(8)) / 8
    assert out['vtm_acc'].item() == pytest.approx(acc)
    assert not out['vtm_acc'].requires_grad
    assert head(torch.randn(4, 7, 8)).shape == (4, 7, 2)


# ---------------------------------------------------------------------------
# real 2-process gloo group
# ---------------------------------------------------------------------------
WORLD, B, D = 2, 3, 5


def _features(rank):
    g = torch.Generator().manual_seed(100 + rank)
    return torch.randn(B, D, generator=g), torch.randn(B, D, generator=g)


def _dist_worker(rank, port):
    import torch.distributed as dist
    torch.set_num_threads(1)
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}',
                            rank=rank, world_size=WORLD,
                            timeout=timedelta(seconds=60))
    try:
        assert get_rank_and_world() == (rank, WORLD)

        # all_gather_with_grad: values in rank order and DDP-style gradient
        x = (torch.arange(B * D, dtype=torch.float64).view(B, D) +
             100 * rank).requires_grad_()
        gathered = all_gather_with_grad(x)
        expected = torch.cat([
            torch.arange(B * D, dtype=torch.float64).view(B, D) + 100 * r
            for r in range(WORLD)
        ])
        assert torch.equal(gathered, expected)
        base = torch.arange(WORLD * B * D, dtype=torch.float64).view(
            WORLD * B, D) * 0.1 + 1
        # rank r's loss is sum((r + 1) * base * gathered); the total loss
        # sum_r loss_r has d/dx_rank = sum_r (r + 1) * base[rank rows]
        ((rank + 1) * base * gathered).sum().backward()
        factor = sum(r + 1 for r in range(WORLD))
        assert torch.allclose(x.grad, factor * base[rank * B:(rank + 1) * B])

        # VTCHead: local rows vs global columns, labels offset by rank
        head = VTCHead(embed_dims=D, learnable_temperature=False)
        video, text = (f.requires_grad_() for f in _features(rank))
        loss = head.loss(video, text)['loss_vtc']
        assert head.last_logits_shape == (B, WORLD * B)

        # independent reference: every rank rebuilds all ranks' features
        feats = [_features(r) for r in range(WORLD)]
        all_v = torch.cat([f[0] for f in feats]).requires_grad_()
        all_t = torch.cat([f[1] for f in feats]).requires_grad_()
        vn = all_v / all_v.norm(dim=1, keepdim=True)
        tn = all_t / all_t.norm(dim=1, keepdim=True)
        sim = tn @ vn.t() / 0.05  # rows = text
        losses = []
        for r in range(WORLD):
            rows = slice(r * B, (r + 1) * B)
            t2v = -torch.log_softmax(sim[rows], dim=1)[:, rows].diagonal()
            v2t = -torch.log_softmax(sim.t()[rows], dim=1)[:, rows].diagonal()
            losses.append(0.5 * (t2v.mean() + v2t.mean()))
        assert torch.allclose(loss, losses[rank], atol=1e-5)
        sum(losses).backward()
        loss.backward()
        rows = slice(rank * B, (rank + 1) * B)
        assert torch.allclose(video.grad, all_v.grad[rows], atol=1e-5)
        assert torch.allclose(text.grad, all_t.grad[rows], atol=1e-5)
    finally:
        dist.destroy_process_group()


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_all_gather_with_grad_two_processes():
    import torch.multiprocessing as mp
    mp.spawn(_dist_worker, args=(_free_port(), ), nprocs=WORLD, join=True)
