"""Feature extraction into HDF5: 2D-TAN's layouts, resume after a kill,
ranks, broken videos, the command line."""
import hashlib
import multiprocessing as mp
import os
import signal
import socket
import sys

import h5py
import numpy as np
import pytest
import torch
from mmengine.config import Config

import simvtp  # noqa: F401
from simvtp.apis import (FeatureFileError, VideoFeatureExtractor,
                         ensure_features, extract_to_hdf5, init_model,
                         read_video_list)

from tests.tiny_model import tiny_simvtp_cfg

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
FORK = mp.get_context('fork')


class FakeExtractor:
    """Deterministic features from the path; optionally dies on a call."""

    def __init__(self, die_on=None):
        self.calls = []
        self.die_on = die_on

    def params(self):
        return dict(clip_len=4, frame_interval=2, stride=8, feature_dim=3)

    def extract(self, path):
        self.calls.append(path)
        if len(self.calls) == self.die_on:
            os.kill(os.getpid(), signal.SIGKILL)  # a hard kill, mid-run
        if 'broken' in path:
            raise RuntimeError(f'{path}: cannot decode')
        seed = sum(map(ord, os.path.basename(path)))
        n = 2 + seed % 5
        return (np.random.default_rng(seed).normal(size=(n, 3)).astype(
            np.float32), dict(num_frames=8 * n, fps=10.0))


def videos(n, broken=()):
    return [(f'v{i:02d}', f'/data/v{i:02d}.mp4' if i not in broken
             else f'/data/broken{i}.mp4') for i in range(n)]


def read_all(path, layout):
    with h5py.File(path, 'r') as f:
        if layout == 'activitynet':  # 2D-TAN's ActivityNet reader
            return {k: f[k]['c3d_features'][:] for k in f.keys()}
        return {k: f[k][:] for k in f.keys()}  # Charades / TACoS readers


@pytest.mark.parametrize('layout', ['activitynet', 'charades', 'tacos'])
def test_layouts_open_as_2dtan_reads_them(tmp_path, layout):
    out = str(tmp_path / 'feats.hdf5')
    res = extract_to_hdf5(FakeExtractor(), videos(5), out, layout=layout,
                          progress=False)
    assert res['total'] == 5 and res['done'] == 5
    got = read_all(out, layout)
    ref = FakeExtractor()
    for vid, path in videos(5):
        np.testing.assert_array_equal(got[vid], ref.extract(path)[0])
    with h5py.File(out, 'r') as f:
        assert f.attrs['layout'] == layout and f.attrs['feature_dim'] == 3
    assert not os.path.exists(out + '.parts')


def test_killed_run_resumes_without_duplicates(tmp_path):
    out = str(tmp_path / 'feats.hdf5')
    vids = videos(9)
    # a run killed (SIGKILL) while extracting its 5th video: two chunks of
    # two videos were committed, the 5th is lost
    child = FORK.Process(target=extract_to_hdf5, args=(
        FakeExtractor(die_on=5), vids, out),
        kwargs=dict(commit_every=2, progress=False))
    child.start()
    child.join(60)
    assert child.exitcode == -signal.SIGKILL
    parts = out + '.parts'
    assert len([p for p in os.listdir(parts) if p.endswith('.h5')]) == 2
    assert not os.path.exists(out)
    # and a chunk it was writing when killed
    open(os.path.join(parts, 'rank000-000003.h5.tmp'), 'wb').write(b'x')
    again = FakeExtractor()
    res = extract_to_hdf5(again, vids, out, commit_every=2, progress=False)
    assert len(again.calls) == 5 and res['skipped'] == 4
    assert res['total'] == 9 and res['duplicates'] == 0
    straight = str(tmp_path / 'straight.hdf5')
    extract_to_hdf5(FakeExtractor(), vids, straight, progress=False)
    got, ref = read_all(out, 'activitynet'), read_all(straight,
                                                      'activitynet')
    assert sorted(got) == sorted(ref) == [v for v, _ in vids]
    for k in ref:
        np.testing.assert_array_equal(got[k], ref[k])
    # complete: a third run extracts nothing
    third = FakeExtractor()
    extract_to_hdf5(third, vids, out, progress=False)
    assert third.calls == []


def test_resume_refuses_other_parameters(tmp_path):
    out = str(tmp_path / 'feats.hdf5')
    extract_to_hdf5(FakeExtractor(), videos(2), out, progress=False)
    other = FakeExtractor()
    other.params = lambda: dict(clip_len=8, frame_interval=2, stride=8,
                                feature_dim=3)
    with pytest.raises(FeatureFileError, match='clip_len: file 4 vs now 8'):
        extract_to_hdf5(other, videos(3), out, progress=False)


def test_resume_refuses_features_of_another_checkpoint(tmp_path):
    ckpt = tmp_path / 'epoch_5.pth'
    ckpt.write_bytes(b'weights of epoch 5')
    out = str(tmp_path / 'feats.hdf5')
    extract_to_hdf5(FakeExtractor(), videos(2), out, progress=False,
                    meta=dict(checkpoint=str(ckpt)))
    with h5py.File(out, 'r') as f:
        assert f.attrs['checkpoint_sha256'] == hashlib.sha256(
            b'weights of epoch 5').hexdigest()
    # the same path re-written by a longer pre-training run
    ckpt.write_bytes(b'weights of epoch 14')
    with pytest.raises(FeatureFileError, match='checkpoint_sha256: file'):
        extract_to_hdf5(FakeExtractor(), videos(3), out, progress=False,
                        meta=dict(checkpoint=str(ckpt)))


def test_complete_file_is_reused_only_with_the_same_settings(tmp_path):
    out = str(tmp_path / 'feats.hdf5')
    listing = tmp_path / 'videos.txt'
    listing.write_text(''.join(f'{p}\t{v}\n' for v, p in videos(3)))
    extract_to_hdf5(FakeExtractor(), videos(3), out, progress=False,
                    meta=dict(checkpoint=None, seed=0))
    spec = dict(config='never built.py', checkpoint=None, seed=0,
                video_list=str(listing), out=out, clip_len=4,
                frame_interval=2, stride=8)
    # complete and extracted this way: nothing to do (no model is built)
    assert ensure_features(spec) == dict(total=3, skipped=3, done=0,
                                         failed=[])
    with pytest.raises(FeatureFileError, match=r"none \(seed 0\)' vs now "
                       r"'none \(seed 1\)'"):
        ensure_features(dict(spec, seed=1))
    with pytest.raises(FeatureFileError, match='stride: file 8 vs now 16'):
        ensure_features(dict(spec, stride=None, clip_len=8))


def test_broken_videos_are_listed_not_fatal(tmp_path):
    out = str(tmp_path / 'feats.hdf5')
    res = extract_to_hdf5(FakeExtractor(), videos(4, broken=(1, )), out,
                          progress=False)
    assert res['total'] == 3 and [f[0] for f in res['failed']] == ['v01']
    lines = open(out + '.failed.tsv').read().splitlines()
    assert lines[0] == 'video_id\tpath\treason'
    assert lines[1].startswith('v01\t/data/broken1.mp4\tRuntimeError')


def _rank(rank, world, port, vids, out):
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world),
                      MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    extract_to_hdf5(FakeExtractor(), vids, out, commit_every=2,
                    progress=False)


def test_ranks_share_the_list_and_rank0_merges(tmp_path):
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    out = str(tmp_path / 'feats.hdf5')
    vids = videos(7)
    procs = [FORK.Process(target=_rank, args=(r, 2, port, vids, out))
             for r in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    assert sorted(read_all(out, 'activitynet')) == [v for v, _ in vids]
    assert not os.path.exists(out + '.parts')


def test_video_list_formats_and_errors(tmp_path):
    lst = tmp_path / 'list.txt'
    lst.write_text('# comment\nvids/a.mp4\n\n/abs/b.avi\tb_id\n')
    assert read_video_list(str(lst)) == [
        ('a', str(tmp_path / 'vids/a.mp4')), ('b_id', '/abs/b.avi')]
    assert read_video_list(str(lst), video_root='/r', key='name')[0] == (
        'a.mp4', '/r/vids/a.mp4')
    lst.write_text('x/a.mp4\ny/a.mp4\n')
    with pytest.raises(FeatureFileError, match=r"list.txt:2: video id 'a' "
                       r'is also the id of .*list.txt:1'):
        read_video_list(str(lst))


def test_command_line_extracts_a_folder(tmp_path, video_factory):
    for name in ('a', 'b'):
        video_factory(f'{name}.mp4', num_frames=18, size=(48, 64))
    cfg = tmp_path / 'tiny.py'
    model_cfg = tiny_simvtp_cfg(dims=8, layers=1, heads=2, size=16, patch=8,
                                frames=4, vocab=30, max_text_len=12,
                                objectives=('vtc', ))
    cfg.write_text(f"default_scope = 'simvtp'\nmodel = {model_cfg!r}\n")
    sys.path.insert(0, os.path.join(REPO, 'tools', 'analysis_tools'))
    try:
        import extract_features
    finally:
        sys.path.pop(0)
    out = str(tmp_path / 'f.hdf5')
    assert extract_features.main([
        str(cfg), 'none', str(tmp_path / 'videos'), out, '--layout',
        'charades', '--clip-len', '4', '--frame-interval', '2',
        '--no-progress']) == 0
    got = read_all(out, 'charades')
    assert sorted(got) == ['a', 'b'] and got['a'].shape == (3, 8)
    # the same features as the Python API on one video
    torch.manual_seed(0)
    model = init_model(Config.fromfile(str(cfg)))
    ref = VideoFeatureExtractor(model, clip_len=4, frame_interval=2)(
        str(tmp_path / 'videos' / 'a.mp4'))
    np.testing.assert_allclose(got['a'], ref, rtol=1e-5, atol=1e-6)
