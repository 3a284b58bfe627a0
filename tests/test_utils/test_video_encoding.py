"""H.264 writing/re-encoding, the resize tool and keyframe-aware sampling."""
import os
import sys

import decord
import numpy as np
import pytest
from mmengine.registry import init_default_scope

pytest.importorskip('av')

from simvtp.utils.video_encoding import reencode, scaled_size, write_h264  # noqa
from simvtp.registry import TRANSFORMS  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tools', 'data'))
import resize_videos  # noqa: E402


def gradient_frames(num, h=48, w=64):
    for t in range(num):
        frame = np.zeros((h, w, 3), np.uint8)
        frame[:, :, 0] = (np.arange(w) * 4 + t * 3) % 256
        frame[:, :, 1] = (np.arange(h)[:, None] * 5) % 256
        yield frame


def test_write_h264_exact_keyframe_interval(tmp_path):
    path = str(tmp_path / 'a.mp4')
    assert write_h264(path, gradient_frames(30), 25, gop=8) == 30
    vr = decord.VideoReader(path)
    assert len(vr) == 30 and vr[0].shape == (48, 64, 3)
    assert vr.get_avg_fps() == pytest.approx(25)
    assert list(vr.get_key_indices()) == [0, 8, 16, 24]
    assert os.listdir(tmp_path) == ['a.mp4']  # no temporary left


def test_reencode_resizes_keeps_rate_and_never_upscales(tmp_path):
    src = str(tmp_path / 'a.mp4')
    write_h264(src, gradient_frames(20), 10, gop=250)
    info = reencode(src, str(tmp_path / 'b.mp4'), short_side=32, gop=5)
    assert (info['width'], info['height'], info['frames']) == (42, 32, 20)
    vr = decord.VideoReader(str(tmp_path / 'b.mp4'))
    assert vr[0].shape == (32, 42, 3) and len(vr) == 20
    assert vr.get_avg_fps() == pytest.approx(10)
    assert list(vr.get_key_indices()) == [0, 5, 10, 15]
    same = reencode(src, str(tmp_path / 'c.mp4'), short_side=480)
    assert (same['width'], same['height']) == (64, 48)
    assert scaled_size(596, 336, 256) == (454, 256)


def test_reencode_of_a_broken_file_leaves_nothing(tmp_path):
    bad = tmp_path / 'bad.mp4'
    bad.write_bytes(b'not a video at all')
    with pytest.raises(Exception):
        reencode(str(bad), str(tmp_path / 'out' / 'bad.mp4'))
    assert not (tmp_path / 'out').exists() or not os.listdir(
        tmp_path / 'out')


def test_resize_tool_mirrors_layout_and_lists_failures(tmp_path, capsys):
    src, dst = tmp_path / 'src', tmp_path / 'dst'
    (src / 'p1').mkdir(parents=True)
    write_h264(str(src / 'p1' / '1.mp4'), gradient_frames(12), 25)
    write_h264(str(src / '2.mp4'), gradient_frames(12), 25)
    (src / 'p1' / 'broken.mp4').write_bytes(b'\0' * 100)
    code = resize_videos.main([str(src), str(dst), '--short-side', '24',
                               '--gop', '4', '--workers', '1'])
    assert code == 1
    assert decord.VideoReader(str(dst / 'p1' / '1.mp4'))[0].shape == (
        24, 32, 3)
    assert (dst / '2.mp4').exists() and not (dst / 'p1' / 'broken.mp4'
                                              ).exists()
    failures = (dst / 'resize_failures.txt').read_text().splitlines()
    assert len(failures) == 1 and 'broken.mp4' in failures[0]
    # a second run only retries what is missing
    (src / 'p1' / 'broken.mp4').unlink()
    assert resize_videos.main([str(src), str(dst), '--workers', '1']) == 0
    assert 'converting 0' in capsys.readouterr().out
    assert not (dst / 'resize_failures.txt').exists()


def _init(path):
    init_default_scope('simvtp')
    return TRANSFORMS.build(dict(type='DecordInit'))(
        dict(filename=path, start_index=0))


def test_keyframe_sampling_starts_near_keyframes(tmp_path):
    path = str(tmp_path / 'a.mp4')
    write_h264(path, gradient_frames(100), 25, gop=20)
    sampler = TRANSFORMS.build(dict(type='KeyframeSampleFrames', clip_len=4,
                                    frame_interval=2, max_lead=3))
    np.random.seed(0)
    starts = set()
    for _ in range(200):
        inds = sampler(_init(path))['frame_inds']
        assert inds.shape == (4,) and np.all(np.diff(inds) == 2)
        assert inds[0] % 20 <= 3 and inds[-1] < 100
        starts.add(int(inds[0]))
    # every allowed start is drawn: 5 keyframes x 4 offsets, minus those
    # where the clip (7 frames) would run past frame 99
    assert starts == {k + d for k in range(0, 100, 20) for d in range(4)}


def test_keyframe_sampling_falls_back_to_sample_frames(tmp_path):
    path = str(tmp_path / 'short.mp4')
    write_h264(path, gradient_frames(6), 25, gop=250)
    sampler = TRANSFORMS.build(dict(type='KeyframeSampleFrames', clip_len=4,
                                    frame_interval=4, max_lead=0))
    inds = sampler(_init(path))['frame_inds']  # clip longer than the video
    assert inds.shape == (4,) and inds.max() < 6
    # no reader (e.g. pre-extracted frames): plain SampleFrames
    np.random.seed(1)
    a = sampler(dict(total_frames=50, start_index=0))['frame_inds']
    np.random.seed(1)
    b = TRANSFORMS.build(dict(type='SampleFrames', clip_len=4,
                              frame_interval=4))(
        dict(total_frames=50, start_index=0))['frame_inds']
    assert np.array_equal(a, b)
    with pytest.raises(ValueError, match='max_lead'):
        TRANSFORMS.build(dict(type='KeyframeSampleFrames', clip_len=4,
                              max_lead=-1))
