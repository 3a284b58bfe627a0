"""VideoRandAugment / VideoRandomErasing and a fine-tuning pipeline by name."""
import random

import numpy as np
import pytest
from mmcv.transforms import Compose
from mmengine.registry import init_default_scope

from simvtp.datasets.transforms.augment import (INCREASING_OPS, OPS,
                                                PLAIN_OPS, VideoRandAugment,
                                                VideoRandomErasing)
from simvtp.registry import TRANSFORMS

GEOMETRIC = ('Rotate', 'ShearX', 'ShearY', 'TranslateXRel', 'TranslateYRel')


def frame(h=24, w=32, seed=0):
    # mid-range values: AutoContrast/Equalize have something to stretch
    rng = np.random.default_rng(seed)
    return rng.integers(30, 230, (h, w, 3), dtype=np.uint8)


def one_op(name, **kwargs):
    kwargs = dict(dict(num_ops=1, prob=1., magnitude=9, magnitude_std=0.),
                  **kwargs)
    return VideoRandAugment(ops=[name], **kwargs)


def test_op_sets_are_timms():
    assert len(INCREASING_OPS) == len(PLAIN_OPS) == 15
    assert VideoRandAugment().ops == INCREASING_OPS
    assert VideoRandAugment(increasing=False).ops == PLAIN_OPS
    assert set(INCREASING_OPS) | set(PLAIN_OPS) == set(OPS)


@pytest.mark.parametrize('name', sorted(OPS))
def test_every_op_is_clip_consistent_and_keeps_shape(name):
    np.random.seed(0)
    same = frame()
    # magnitude 3: not the identity of plain Brightness etc. (factor 1 at 5)
    # and both Solarize thresholds (76, 180) fall inside the values
    results = one_op(name, magnitude=3).transform({'imgs': [same] * 3})
    out = results['imgs']
    assert isinstance(out, list) and len(out) == 3
    assert all(o.shape == same.shape and o.dtype == np.uint8 for o in out)
    assert np.array_equal(out[0], out[1]) and np.array_equal(out[0], out[2])
    assert not np.array_equal(out[0], same)
    # a (T, H, W, 3) array stays an array
    arr = one_op(name).transform({'imgs': np.stack([same] * 2)})['imgs']
    assert isinstance(arr, np.ndarray) and arr.shape == (2, 24, 32, 3)
    assert arr.dtype == np.uint8


def test_default_policy_is_clip_consistent_and_seeded():
    clip = [frame(seed=1)] * 4
    np.random.seed(3)
    a = VideoRandAugment(prob=1.).transform({'imgs': list(clip)})['imgs']
    np.random.seed(3)
    b = VideoRandAugment(prob=1.).transform({'imgs': list(clip)})['imgs']
    assert all(np.array_equal(a[0], x) for x in a[1:])
    assert not np.array_equal(a[0], clip[0])
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    # different frames get the same geometric op: a translated clip of two
    # different frames equals translating each frame alone with the same draw
    f0, f1 = frame(seed=2), frame(seed=3)
    np.random.seed(5)
    both = one_op('TranslateXRel').transform({'imgs': [f0, f1]})['imgs']
    np.random.seed(5)
    alone = one_op('TranslateXRel').transform({'imgs': [f1]})['imgs']
    assert np.array_equal(both[1], alone[0])


@pytest.mark.parametrize('name', GEOMETRIC)
def test_geometric_op_at_magnitude_zero_is_identity(name):
    clip = [frame(seed=4), frame(seed=5)]
    out = one_op(name, magnitude=0).transform({'imgs': list(clip)})['imgs']
    assert all(np.array_equal(x, y) for x, y in zip(out, clip))


def test_op_values_against_independent_formulas():
    f = frame(seed=6)
    out = one_op('Invert').transform({'imgs': [f]})['imgs'][0]
    assert np.array_equal(out, 255 - f)
    # SolarizeAdd m=9: adds int(9 / 10 * 110) = 99 to values below 128
    out = one_op('SolarizeAdd').transform({'imgs': [f]})['imgs'][0]
    want = np.where(f < 128, np.minimum(f.astype(int) + 99, 255), f)
    assert np.array_equal(out, want)
    # SolarizeIncreasing m=5: inverts values >= 256 - int(0.5 * 256) = 128
    out = one_op('SolarizeIncreasing', magnitude=5).transform(
        {'imgs': [f]})['imgs'][0]
    assert np.array_equal(out, np.where(f >= 128, 255 - f, f))
    # PosterizeIncreasing m=5: keeps 4 - int(0.5 * 4) = 2 high bits
    out = one_op('PosterizeIncreasing', magnitude=5).transform(
        {'imgs': [f]})['imgs'][0]
    assert np.array_equal(out, f & 0b11000000)
    # TranslateXRel m=10 moves by 0.45 * 32 = 14.4 px: a fill column appears
    out = one_op('TranslateXRel', magnitude=10, fill=(1, 2, 3),
                 interpolation='nearest').transform({'imgs': [f]})['imgs'][0]
    filled = (out == (1, 2, 3)).all(-1).all(0)
    assert filled.sum() == 14 and (filled[:14].all() or filled[-14:].all())


def test_prob_zero_and_magnitude_sampling():
    f = frame()
    out = VideoRandAugment(prob=0.).transform({'imgs': [f]})['imgs']
    assert out[0] is f
    t = VideoRandAugment(magnitude=7, magnitude_std=0.5)
    np.random.seed(0)
    m = np.array([t._sample_magnitude() for _ in range(4000)])
    assert abs(m.mean() - 7) < 0.05 and abs(m.std() - 0.5) < 0.05
    assert VideoRandAugment(magnitude=9.8, magnitude_std=1.)\
        ._sample_magnitude() <= 10.
    np.random.seed(0)
    plans = [VideoRandAugment(prob=0.5).sample() for _ in range(2000)]
    assert abs(np.mean([len(p) for p in plans]) - 2.) < 0.1


@pytest.mark.parametrize('imgs, match', [
    ([np.zeros((8, 8, 3), np.float32)], r"imgs'\]\[0\] must be uint8"),
    ([np.zeros((8, 8), np.uint8)], r"imgs'\]\[0\] must have shape"),
    (np.zeros((8, 8, 3), np.uint8), r"imgs'\] must be a \(T, H, W, 3\)"),
    ([], r"imgs'\] is empty"),
    ([np.zeros((8, 8, 3), np.uint8), np.zeros((8, 9, 3), np.uint8)],
     'differ in shape'),
    ('video.mp4', r"imgs'\] must be a list"),
])
def test_bad_frames_name_the_field(imgs, match):
    for t in (VideoRandAugment(prob=1.), VideoRandomErasing(erase_prob=1.)):
        with pytest.raises(ValueError, match=match):
            t.transform({'imgs': imgs})
    with pytest.raises(ValueError, match="no 'imgs'"):
        VideoRandomErasing().transform({})
    with pytest.raises(ValueError, match='unknown'):
        VideoRandAugment(ops=['Cutout'])


def changed_box(before, after):
    """Bounding box (top, left, h, w) of the changed pixels and how much of
    it changed."""
    mask = (before != after).any(-1)
    rows, cols = np.nonzero(mask)
    top, left = rows.min(), cols.min()
    h, w = rows.max() - top + 1, cols.max() - left + 1
    return (top, left, h, w), mask[top:top + h, left:left + w].mean()


@pytest.mark.parametrize('same', [True, False])
def test_erasing_box_area_and_sharing(same):
    H, W = 60, 80
    clip = [np.full((H, W, 3), 7, np.uint8)] * 6
    eraser = VideoRandomErasing(erase_prob=1., same_region_across_frames=same)
    # rounding h and w to integers moves the area by at most (h + w) / 2 + 1/4
    slack = (H + W) / 2 / (H * W)
    boxes = set()
    for seed in range(20):
        np.random.seed(seed)
        out = eraser.transform({'imgs': list(clip)})['imgs']
        per_frame = [changed_box(clip[0], o) for o in out]
        for (_, _, h, w), filled in per_frame:
            assert filled > 0.99  # the box is filled with noise
            assert 0.02 - slack <= h * w / (H * W) <= 1 / 3 + slack
        frame_boxes = {box for box, _ in per_frame}
        if same:
            assert len(frame_boxes) == 1
            # fresh noise per frame, as VideoMAE's cube eraser draws it
            assert not np.array_equal(out[0], out[1])
        else:
            assert len(frame_boxes) > 1
        boxes |= frame_boxes
    assert len(boxes) > 10  # boxes move between clips


def test_erasing_fill_modes_match_timm_after_normalisation():
    mean, std = np.array([123.675, 116.28, 103.53]), np.array(
        [58.395, 57.12, 57.375])
    clip = [np.zeros((200, 200, 3), np.uint8)]
    np.random.seed(0)
    out = VideoRandomErasing(erase_prob=1., mode='pixel', max_area=0.5,
                             min_area=0.4).transform(
        {'imgs': list(clip)})['imgs'][0]
    (top, left, h, w), _ = changed_box(clip[0], out)
    z = (out[top:top + h, left:left + w] - mean) / std  # as normalised
    assert np.allclose(z.reshape(-1, 3).mean(0), 0, atol=0.05)
    assert np.allclose(z.reshape(-1, 3).std(0), 1, atol=0.05)
    out = VideoRandomErasing(erase_prob=1., mode='const').transform(
        {'imgs': list(clip)})['imgs'][0]
    (top, left, _, _), _ = changed_box(clip[0], out)
    assert np.array_equal(out[top, left], np.rint(mean))
    out = VideoRandomErasing(erase_prob=1., mode='rand').transform(
        {'imgs': list(clip)})['imgs'][0]
    (top, left, h, w), _ = changed_box(clip[0], out)
    assert (out[top:top + h, left:left + w] == out[top, left]).all()


def test_erasing_prob_zero_is_identity():
    clip = np.stack([frame(seed=s) for s in range(3)])
    results = VideoRandomErasing(erase_prob=0.).transform({'imgs': clip})
    assert results['imgs'] is clip
    results = VideoRandomErasing(
        erase_prob=0., same_region_across_frames=False).transform(
            {'imgs': list(clip)})
    assert all(np.array_equal(x, y) for x, y in zip(results['imgs'], clip))


def test_finetune_pipeline_by_name_on_a_real_video(tmp_path):
    pytest.importorskip('av')
    from simvtp.utils.video_encoding import write_h264
    path = str(tmp_path / 'clip.mp4')
    frames = []
    for t in range(24):
        f = np.zeros((48, 64, 3), np.uint8)
        f[..., 0] = (np.arange(64) * 4 + t * 3) % 256
        f[..., 1] = (np.arange(48)[:, None] * 5) % 256
        f[..., 2] = 90
        frames.append(f)
    write_h264(path, frames, 25, gop=8)
    init_default_scope('simvtp')
    head = [
        dict(type='DecordInit'),
        dict(type='SampleFrames', clip_len=4, frame_interval=2,
             num_clips=1),
        dict(type='DecordDecode'),
        dict(type='RandomResizedCrop', area_range=(0.08, 1.0)),
        dict(type='Resize', scale=(224, 224), keep_ratio=False),
        dict(type='Flip', flip_ratio=0.5),
    ]
    augment = dict(type='VideoRandAugment', prob=1.)
    erase = dict(type='VideoRandomErasing', erase_prob=1.)
    tail = [dict(type='FormatShape', input_format='NCTHW')]

    def run(cfgs):
        pipeline = Compose([TRANSFORMS.build(cfg) for cfg in cfgs])
        # crop and flip draw the same in every run (mmaction's crop offsets
        # come from python's random, the rest from numpy's)
        random.seed(0)
        np.random.seed(0)
        return pipeline(dict(filename=path, start_index=0, modality='RGB'))

    plain = run(head + tail)
    augmented = run(head + [augment] + tail)
    full = run(head + [augment, erase] + tail)
    assert isinstance(TRANSFORMS.build(erase), VideoRandomErasing)
    for results in (plain, augmented, full):
        assert results['imgs'].shape == (1, 3, 4, 224, 224)
        assert results['imgs'].dtype == np.uint8
        assert results['img_shape'] == (224, 224)
    assert 'flip' in full and 'crop_quadruple' in full
    assert not np.array_equal(plain['imgs'], augmented['imgs'])
    # erasing comes last: it changes one box, the same in all 4 frames
    before = augmented['imgs'][0].transpose(1, 2, 3, 0)  # T, H, W, C
    after = full['imgs'][0].transpose(1, 2, 3, 0)
    boxes = {changed_box(b, a)[0] for b, a in zip(before, after)}
    assert len(boxes) == 1
    (_, _, h, w), = boxes
    assert 0.019 <= h * w / 224 ** 2 <= 0.34
