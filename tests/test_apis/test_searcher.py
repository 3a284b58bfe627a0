"""VideoTextSearcher: index round trip, refused files, broken videos,
ranking against brute force, figures equal to tools/test.py's."""
import os
import pickle
import shutil

import numpy as np
import pytest

from simvtp.apis import (IndexFileError, SearchIndex, VideoTextSearcher,
                         encode_texts, encode_videos)


@pytest.fixture(scope='module')
def searcher(tiny_model):
    return VideoTextSearcher(tiny_model, batch_size=3, progress=False)


def test_index_round_trip(searcher, tiny_env, tmp_path):
    index = searcher.build_index(tiny_env['videos'])
    assert index.names == sorted(tiny_env['paths'])
    path = searcher.save_index(str(tmp_path / 'idx'))
    assert path.endswith('idx.npz')
    fresh = VideoTextSearcher(searcher.model, progress=False)
    loaded = fresh.load_index(path)
    np.testing.assert_array_equal(loaded.features, index.features)
    assert loaded.names == index.names
    assert loaded.fingerprint == index.fingerprint
    assert loaded.meta['failed'] == []
    assert fresh.search('red circle', topk=3) == searcher.search(
        'red circle', topk=3)


def _npz(path, **arrays):
    with open(path, 'wb') as f:
        np.savez(f, **arrays)
    return str(path)


class _RunsCode:
    """Unpickling this creates a file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, 'w'))


def test_crafted_index_files_are_refused(searcher, tmp_path):
    marker = str(tmp_path / 'code_ran')
    good = dict(features=np.zeros((1, 4), np.float32),
                names=np.array(['a.mp4']),
                meta=np.array('{"format": "simvtp-video-index/1", '
                              '"fingerprint": "x"}'))
    # an object array in the archive needs pickle: refused, nothing runs
    evil = dict(good, names=np.array([_RunsCode(marker)], dtype=object))
    path = _npz(tmp_path / 'evil.npz', **evil)
    with pytest.raises(IndexFileError, match=r"evil\.npz: array 'names'"):
        SearchIndex.load(path)
    # a bare pickle with an index's name
    bare = tmp_path / 'bare.npz'
    bare.write_bytes(pickle.dumps(_RunsCode(marker)))
    with pytest.raises(IndexFileError, match=r'bare\.npz: not a simvtp'):
        SearchIndex.load(str(bare))
    assert not os.path.exists(marker)
    # inconsistent arrays name the key
    path = _npz(tmp_path / 'short.npz',
                **dict(good, names=np.array(['a', 'b'])))
    with pytest.raises(IndexFileError, match=r"'names' must be 1 strings"):
        SearchIndex.load(path)
    path = _npz(tmp_path / 'nan.npz',
                **dict(good, features=np.full((1, 4), np.nan, np.float32)))
    with pytest.raises(IndexFileError, match='non-finite'):
        SearchIndex.load(path)
    # a well-formed index of another model
    path = _npz(tmp_path / 'other.npz', **good)
    with pytest.raises(IndexFileError, match='another model'):
        searcher.load_index(path)
    assert len(searcher.load_index(path, check_model=False)) == 1


def test_broken_videos_are_reported_and_skipped(searcher, tiny_env,
                                                tmp_path):
    folder = tmp_path / 'mixed'
    shutil.copytree(tiny_env['videos'], folder)
    (folder / 'empty.mp4').write_bytes(b'')
    (folder / 'sub').mkdir()
    (folder / 'sub' / 'text.mp4').write_text('not a video\n' * 50)
    index = searcher.build_index(str(folder))
    assert len(index) == len(tiny_env['paths'])
    failed = dict(index.meta['failed'])
    assert set(failed) == {str(folder / 'empty.mp4'),
                           str(folder / 'sub' / 'text.mp4')}
    assert all(reason for reason in failed.values())
    assert not any('empty.mp4' in n or 'text.mp4' in n for n in index.names)


def test_topk_matches_brute_force(searcher, tiny_env):
    searcher.build_index(tiny_env['paths'])
    queries = ['a red circle', 'the dog runs left', 'blue square grows']
    video = encode_videos(searcher.model, tiny_env['paths'],
                          progress=False).numpy().astype(np.float64)
    text = encode_texts(searcher.model, queries,
                        progress=False).numpy().astype(np.float64)
    results = searcher.search(queries, topk=4)
    for q, hits in enumerate(results):
        scores = [float(np.dot(text[q], v)) for v in video]
        brute = sorted(range(len(scores)), key=lambda j: (-scores[j], j))[:4]
        assert [h.index for h in hits] == brute
        assert [h.video for h in hits] == [tiny_env['paths'][j]
                                           for j in brute]
        assert [h.rank for h in hits] == [1, 2, 3, 4]
        np.testing.assert_allclose([h.score for h in hits],
                                   [scores[j] for j in brute], atol=1e-5)
    assert len(searcher.search('blue', topk=50)[0]) == len(tiny_env['paths'])


def test_rank_captions(searcher, tiny_env):
    caps = ['a red circle', 'the dog runs left', 'blue square grows',
            'green']
    ranked = searcher.rank_captions(tiny_env['paths'][1], caps)
    video = encode_videos(searcher.model, tiny_env['paths'][1:2],
                          progress=False)
    scores = (encode_texts(searcher.model, caps, progress=False)
              @ video.T)[:, 0].tolist()
    order = sorted(range(4), key=lambda i: (-scores[i], i))
    assert [c for c, _ in ranked] == [caps[i] for i in order]


def test_figures_equal_tools_test(tiny_env, tmp_path):
    """The API's retrieval figures are tools/test.py's on the same
    checkpoint and split (the Runner that tools/test.py builds)."""
    from mmengine.runner import Runner

    from simvtp.utils.setup import load_config, prepare_runtime
    cfg = load_config(tiny_env['config'],
                      work_dir=str(tmp_path / 'work'))
    cfg.load_from = tiny_env['checkpoint']
    cfg.default_hooks.pop('visualization', None)
    prepare_runtime(cfg)
    runner = Runner.from_cfg(cfg)
    expected = runner.test()
    searcher = VideoTextSearcher(tiny_env['config'], tiny_env['checkpoint'],
                                 batch_size=2, progress=False)
    got = searcher.evaluate()
    assert got['num_videos'] == len(tiny_env['paths'])
    assert got['num_texts'] == sum(len(c) for c in tiny_env['captions'])
    assert {f'retrieval/{k}': v for k, v in got.items()} == expected
