"""MultiClipDecode + multi_clip_collate: K clips per decoded video, and the
VTC / VTM targets that never treat two clips of one video as a negative."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import FUNCTIONS, init_default_scope

from simvtp.registry import MODELS, TRANSFORMS
from tests.tiny_model import build_tiny


@pytest.fixture(scope='module')
def video(tmp_path_factory):
    pytest.importorskip('av')
    from simvtp.utils.video_encoding import write_h264
    path = str(tmp_path_factory.mktemp('mc') / 'v.mp4')
    rng = np.random.default_rng(0)
    # frame t is filled with value 4*t (+ noise): frames are told apart
    frames = [np.clip(np.full((32, 64, 3), 4 * t) + rng.integers(
        0, 3, (32, 64, 3)), 0, 255).astype(np.uint8) for t in range(40)]
    write_h264(path, frames, 25, gop=16, crf=10)
    return path


def pipeline(k):
    init_default_scope('simvtp')
    return [TRANSFORMS.build(dict(type='DecordInit')),
            TRANSFORMS.build(dict(
                type='MultiClipDecode', num_clips=k,
                sampler=dict(type='SampleFrames', clip_len=4,
                             frame_interval=3, num_clips=1),
                clip_pipeline=[
                    dict(type='FormatShape', input_format='NCTHW'),
                    dict(type='TubeMasking', mask_ratio=0.5, tubelet_size=2,
                         patch_size=16),
                    dict(type='PackVideoTextInputs',
                         meta_keys=('frame_inds', 'filename'))]))]


def read(path, idx, k):
    results = dict(filename=path, sample_idx=idx, start_index=0,
                   modality='RGB')
    for t in pipeline(k):
        results = t(results)
    return results


def test_clips_equal_their_own_decode_and_carry_the_video(video):
    import decord
    np.random.seed(3)
    item = read(video, 7, 3)
    assert len(item['clips']) == 3
    vr = decord.VideoReader(video, num_threads=1)
    starts = set()
    for clip in item['clips']:
        inds = clip['data_samples'].metainfo['frame_inds']
        starts.add(int(inds[0]))
        own = torch.from_numpy(vr.get_batch(inds).asnumpy())  # T, H, W, 3
        assert torch.equal(clip['inputs']['video'], own.permute(3, 0, 1, 2))
        assert int(clip['inputs']['video_group']) == 7
    assert len(starts) > 1  # the clips are sampled independently
    masks = [c['inputs']['video_mask'] for c in item['clips']]
    assert not all(torch.equal(masks[0], m) for m in masks[1:])

    other = read(video, 9, 2)
    batch = FUNCTIONS.get('multi_clip_collate')([item, other])
    assert len(batch['inputs']['video']) == 5  # 3 + 2 clips
    data = build_tiny().data_preprocessor(batch, True)
    assert data['inputs']['video'].shape == (5, 3, 4, 32, 64)
    assert data['inputs']['video_group'].tolist() == [7, 7, 7, 9, 9]


def test_bad_settings_are_refused():
    init_default_scope('simvtp')
    sampler = dict(type='SampleFrames', clip_len=4, num_clips=2)
    with pytest.raises(ValueError, match='one clip'):
        TRANSFORMS.build(dict(type='MultiClipDecode', num_clips=2,
                              sampler=sampler, clip_pipeline=[]))
    with pytest.raises(ValueError, match='num_clips must be >= 1'):
        TRANSFORMS.build(dict(type='MultiClipDecode', num_clips=0,
                              sampler=dict(sampler, num_clips=1),
                              clip_pipeline=[]))


def test_vtc_leaves_same_video_pairs_out():
    init_default_scope('simvtp')
    head = MODELS.build(dict(type='VTCHead', embed_dims=8, gather=False))
    g = torch.Generator().manual_seed(0)
    video, text = torch.randn(4, 8, generator=g), torch.randn(
        4, 8, generator=g)
    groups = torch.tensor([5, 5, 2, 2])
    loss = head.loss(video, text, groups=groups)['loss_vtc']
    # independent: each row's softmax over its pair and other videos only
    v, t = F.normalize(video, dim=-1), F.normalize(text, dim=-1)
    logits = head.scale() * t @ v.t()
    total = 0.0
    for i in range(4):
        keep = [j for j in range(4) if j == i or groups[j] != groups[i]]
        for rows in (logits, logits.t()):
            total -= torch.log_softmax(rows[i, keep], 0)[keep.index(i)]
    assert loss.item() == pytest.approx(total.item() / 8, rel=1e-5)
    # a same-video clip gets no gradient through text 0 (it is no negative)
    video = video.clone().requires_grad_()
    head.loss(video, text, groups=torch.tensor([5, 5, 2, 2]))[
        'loss_vtc'].backward()
    plain = video.grad.clone()
    video.grad = None
    head.loss(video, text)['loss_vtc'].backward()
    assert not torch.allclose(plain, video.grad)


@pytest.mark.parametrize('negative', ['random', 'hard'])
def test_vtm_negatives_come_from_other_videos(negative):
    init_default_scope('simvtp')
    head = MODELS.build(dict(type='VTMHead', embed_dims=8,
                             negative=negative))
    groups = torch.tensor([0, 0, 0, 1, 1, 2])
    sim = torch.randn(6, 6, generator=torch.Generator().manual_seed(1))
    g = torch.Generator().manual_seed(0)
    picked = torch.stack([head.sample_negatives(6, sim, g, groups=groups)
                          for _ in range(300)])  # (draws, B)
    assert (groups[picked] != groups[None, :]).all()
    for i in range(6):  # every other video's pair is drawn sometimes
        others = set(torch.nonzero(groups != groups[i]).flatten().tolist())
        assert set(picked[:, i].tolist()) == others
    with pytest.raises(ValueError, match='same video as pair 0'):
        head.sample_negatives(3, sim[:3, :3], groups=torch.tensor([4, 4, 4]))


def test_model_step_with_groups_pairs_only_other_videos():
    from tests.test_analysis.common import build, inputs_of
    model = build()
    inputs = inputs_of(model)
    inputs['video_group'] = torch.tensor([3, 3, 8, 8])
    drawn = []
    sample = model.vtm_head.sample_negatives

    def spy(*args, **kwargs):
        drawn.append(sample(*args, **kwargs))
        return drawn[-1]
    model.vtm_head.sample_negatives = spy
    losses = model.loss(inputs)
    assert torch.isfinite(sum(v for k, v in losses.items()
                              if k.startswith('loss')))
    assert drawn[0].tolist() in ([2, 2, 0, 0], [2, 3, 0, 0], [3, 2, 0, 0],
                                 [3, 3, 0, 0], [2, 2, 0, 1], [2, 2, 1, 0],
                                 [2, 2, 1, 1], [2, 3, 0, 1], [2, 3, 1, 0],
                                 [2, 3, 1, 1], [3, 2, 0, 1], [3, 2, 1, 0],
                                 [3, 2, 1, 1], [3, 3, 0, 1], [3, 3, 1, 0],
                                 [3, 3, 1, 1])
    ref = build(type='ReferenceFlowSimVTP')
    with pytest.raises(ValueError, match='needs SimVTP'):
        ref.loss(inputs)
