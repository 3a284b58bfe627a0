"""Broken samples never end training, and never change the test set.

Real files of every kind (missing, empty, text, truncated, undecodable
frames, a 1-frame clip) and captions (empty, whitespace, overlong,
non-Latin) go through the real pipeline of the tiny config.
"""
import json
import os
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import simvtp  # noqa: F401
from simvtp.datasets import (BrokenSampleError, BrokenSampleGuard,
                             MSRVTTDataset, WebVidDataset)
from simvtp.datasets import broken_sample_guard
from tests.test_reliability.conftest import VIDEO_KINDS
from tests.test_reliability.helpers import (REPO, TINY_CONFIG, tiny_cfg,
                                            tool, write_webvid_csv)

CAPTION = 'a red circle moves left'
CAPTION_KINDS = {  # caption -> broken reason (None: usable)
    '': 'empty or whitespace-only caption',
    '   \t ': 'empty or whitespace-only caption',
    ' '.join(['the dog runs'] * 40): None,  # truncated by TokenizeText
    '赤い円が左に動く': None,  # all [UNK] with this vocabulary: warning
}


def train_pipeline(tok, max_length=16):
    return [
        dict(type='DecordInit'),
        dict(type='SampleFrames', clip_len=4, frame_interval=2, num_clips=1,
             test_mode=True),
        dict(type='DecordDecode'),
        dict(type='Resize', scale=(32, 32), keep_ratio=False),
        dict(type='FormatShape', input_format='NCTHW'),
        dict(type='TubeMasking', mask_ratio=0.5, tubelet_size=2,
             patch_size=16, seed=1),
        dict(type='TokenizeText', tokenizer=tok, max_length=max_length),
        dict(type='TextMasking', mask_ratio=0.5, seed=2),
        dict(type='PackVideoTextInputs'),
    ]


def eval_pipeline(tok):
    return [step for step in train_pipeline(tok)
            if step['type'] not in ('TubeMasking', 'TextMasking')]


@pytest.fixture(scope='module')
def rows(broken_videos):
    """(video, caption, expected reason) for every kind of fault."""
    out = [(f'{name}.mp4', CAPTION, reason)
           for name, reason in VIDEO_KINDS.items()]
    out += [('good0.mp4', caption, reason)
            for caption, reason in CAPTION_KINDS.items()]
    return out


@pytest.fixture(scope='module')
def webvid(rows, broken_videos, tiny_tokenizer_dir, tmp_path_factory):
    init_default_scope('simvtp')
    ann = tmp_path_factory.mktemp('ann') / 'train.csv'
    write_webvid_csv(ann, [[os.path.splitext(v)[0], 'u', 'd', '.', c]
                           for v, c, _ in rows])
    return str(ann)


def make_train_set(ann, videos, tok, **kwargs):
    init_default_scope('simvtp')
    return BrokenSampleGuard(
        WebVidDataset(ann, data_prefix=dict(video=videos),
                      pipeline=train_pipeline(tok)), **kwargs)


def test_every_fault_is_replaced_with_path_and_reason(
        webvid, rows, broken_videos, tiny_tokenizer_dir):
    ds = make_train_set(webvid, broken_videos, tiny_tokenizer_dir)
    assert len(ds) == len(rows)
    placeholders = []
    for i, (video, caption, reason) in enumerate(rows):
        data = ds[i]
        meta = data['data_samples'].metainfo
        replaced = meta.get('replaced')
        if reason is None:
            assert replaced is None, (video, caption, replaced)
            assert meta['text'] == caption.strip()
            continue
        assert replaced, (video, caption)
        path, why = replaced[0]
        assert os.path.normpath(path) == os.path.join(broken_videos, video)
        assert why.startswith(reason), (video, why)
        # what came back is a readable sample of the right shape
        assert data['inputs']['video'].shape == (3, 4, 32, 32)
        assert (meta["filename"], meta["text"]) != (path, caption.strip())


def test_short_clip_is_looped_not_broken(webvid, rows, broken_videos,
                                         tiny_tokenizer_dir):
    ds = make_train_set(webvid, broken_videos, tiny_tokenizer_dir)
    i = [r[0] for r in rows].index('short.mp4')
    data = ds[i]
    assert 'replaced' not in data['data_samples'].metainfo
    video = data['inputs']['video']
    assert video.shape == (3, 4, 32, 32)
    for t in range(1, 4):  # the one frame, repeated
        assert torch.equal(video[:, t], video[:, 0])


def test_overlong_caption_is_truncated_and_non_latin_is_a_warning(
        webvid, rows, broken_videos, tiny_tokenizer_dir):
    ds = make_train_set(webvid, broken_videos, tiny_tokenizer_dir)
    captions = [r[1] for r in rows]
    long_i = captions.index(' '.join(['the dog runs'] * 40))
    assert ds[long_i]['inputs']['input_ids'].numel() == 16  # max_length
    assert 'data_warnings' not in ds[long_i]['data_samples'].metainfo
    foreign = ds[captions.index('赤い円が左に動く')]
    (path, why), = foreign['data_samples'].metainfo['data_warnings']
    assert path.endswith('good0.mp4') and '[UNK]' in why
    assert 'replaced' not in foreign['data_samples'].metainfo


def test_replacement_is_deterministic_and_logged_once_per_path(
        webvid, rows, broken_videos, tiny_tokenizer_dir, monkeypatch):
    logged = []
    monkeypatch.setattr(broken_sample_guard, 'print_log',
                        lambda msg, **kw: logged.append(msg))
    i = [r[0] for r in rows].index('missing.mp4')
    ds1 = make_train_set(webvid, broken_videos, tiny_tokenizer_dir)
    ds2 = make_train_set(webvid, broken_videos, tiny_tokenizer_dir)
    picks = {ds1[i]['data_samples'].metainfo['text_id'] for _ in range(3)}
    picks.add(ds2[i]['data_samples'].metainfo['text_id'])
    assert len(picks) == 1 and picks != {i}
    assert sum('missing.mp4' in m for m in logged) == 2  # once per instance
    assert 'missing file' in logged[0]
    ds3 = make_train_set(webvid, broken_videos, tiny_tokenizer_dir,
                         resample_seed=7)
    assert ds3._replacement(i, 0) != i


def test_gives_up_with_a_clear_error_when_everything_is_broken(
        webvid, tiny_tokenizer_dir, tmp_path):
    ds = make_train_set(webvid, str(tmp_path / 'wrong_root'),
                        tiny_tokenizer_dir, max_read_attempts=4)
    with pytest.raises(BrokenSampleError,
                       match=r'(?s)sample 0 and 3 replacement.*missing file'
                             r'.*data_prefix\.video'):
        ds[0]


def test_test_mode_keeps_size_and_order_and_flags_broken(
        rows, broken_videos, tiny_tokenizer_dir, tmp_path):
    ann = tmp_path / 'test.json'
    ann.write_text(json.dumps([dict(video=v, caption=c) for v, c, _ in rows]))
    init_default_scope('simvtp')
    ds = BrokenSampleGuard(MSRVTTDataset(
        str(ann), data_prefix=dict(video=broken_videos),
        pipeline=eval_pipeline(tiny_tokenizer_dir), test_mode=True))
    assert len(ds) == len(rows)
    good0 = ds[[r[0] for r in rows].index('good0.mp4')]['inputs']['video']
    placeholders = []
    for i, (video, caption, reason) in enumerate(rows):
        data = ds[i]
        meta = data['data_samples'].metainfo
        assert meta['text'] == caption.strip()  # aligned with the index
        assert data['inputs']['video'].shape == (3, 4, 32, 32)
        if reason is None:
            assert not meta.get('broken')
        elif 'caption' in reason:
            # a bad caption on a good video: evaluated on its real frames,
            # flagged as a data warning, not as an unreadable sample
            assert not meta.get('broken')
            assert torch.equal(data['inputs']['video'], good0)
            (path, why), = meta['data_warnings']
            assert path.endswith('good0.mp4') and why.startswith(reason)
        else:
            assert meta['broken'] is True
            assert meta['broken_reason'].startswith(reason)
            assert meta['broken_path'].endswith(video)
            placeholders.append(data['inputs']['video'])
            assert torch.equal(ds[i]['inputs']['video'], placeholders[-1])
    # distinct placeholders: no feature ties for the retrieval metric
    assert len(placeholders) == 5
    assert not any(torch.equal(placeholders[0], p) for p in placeholders[1:])


class ConfigBug:
    """A transform that fails the way a misconfigured one does."""

    def __call__(self, results):
        return results['no_such_key']


@pytest.mark.parametrize('test_mode', [False, True])
def test_programming_errors_are_raised_not_replaced(
        rows, broken_videos, tiny_tokenizer_dir, tmp_path, test_mode):
    ann = tmp_path / 'a.json'
    ann.write_text(json.dumps([dict(video='good0.mp4', caption=CAPTION),
                               dict(video='good1.mp4', caption=CAPTION)]))
    init_default_scope('simvtp')
    pipeline = eval_pipeline(tiny_tokenizer_dir)
    pipeline.insert(3, ConfigBug())
    ds = BrokenSampleGuard(MSRVTTDataset(
        str(ann), data_prefix=dict(video=broken_videos), pipeline=pipeline,
        test_mode=test_mode))
    with pytest.raises(KeyError, match='no_such_key'):
        ds[0]


def test_dataset_settings_moved_to_the_guard_are_named(tmp_path):
    with pytest.raises(TypeError, match=r"max_read_attempts moved to the "
                       r"BrokenSampleGuard wrapper"):
        WebVidDataset(str(tmp_path / 'a.csv'), max_read_attempts=3)
    with pytest.raises(TypeError, match=r'BrokenSampleGuard got ann_file.*'
                       r'dataset\.dataset\.ann_file'):
        BrokenSampleGuard(dict(type='WebVidDataset', ann_file='x'),
                          ann_file='y')


def test_training_survives_broken_samples_and_counts_them(
        broken_videos, tiny_tokenizer_dir, tmp_path):
    # 6 good + 2 broken (25% of the rows; fewer reads fail than that)
    names = ['good0', 'missing', 'good1', 'good2', 'truncated', 'good3',
             'good4', 'good5']
    ann = tmp_path / 'train.csv'
    write_webvid_csv(ann, [[n, 'u', 'd', '.', CAPTION] for n in names])
    hook = dict(type='DataHealthHook', max_failure_ratio=0.5, min_samples=1,
                interval=1)
    cfg = tiny_cfg(tmp_path, tiny_tokenizer_dir, ann, broken_videos, [hook])
    runner = Runner.from_cfg(cfg)
    runner.train()
    health = [h for h in runner.hooks if type(h).__name__ == 'DataHealthHook']
    total = health[0].total
    assert total['samples'] == 8  # 4 iterations x batch 2: nothing lost
    # each broken row was read once; a replacement may be broken too
    assert total['failures'] >= 2
    assert runner.message_hub.get_info('data_health') == total


def test_too_many_failures_stop_training_naming_the_cause(
        broken_videos, tiny_tokenizer_dir, tmp_path):
    names = ['good0', 'missing', 'zero', 'text', 'good1', 'truncated',
             'badframes', 'good2']
    ann = tmp_path / 'train.csv'
    write_webvid_csv(ann, [[n, 'u', 'd', '.', CAPTION] for n in names])
    hook = dict(type='DataHealthHook', min_samples=4, interval=1)
    cfg = tiny_cfg(tmp_path, tiny_tokenizer_dir, ann, broken_videos, [hook])
    runner = Runner.from_cfg(cfg)
    with pytest.raises(RuntimeError, match=r'(?s)of sample reads failed.*'
                       r'max_failure_ratio=0\.2.*data_prefix\.video.*'
                       r'video_template.*permissions.*Examples:.*\.mp4: '):
        runner.train()


def test_tools_test_lists_and_counts_unreadable_test_samples(
        broken_videos, tiny_tokenizer_dir, tmp_path):
    names = ['good0', 'missing', 'good1', 'badframes', 'good2', 'good3']
    test_ann = tmp_path / 'test.json'
    test_ann.write_text(json.dumps(
        [dict(video=f'{n}.mp4', caption=f'{CAPTION} {i}')
         for i, n in enumerate(names)]))
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(TINY_CONFIG.format(
        repo=REPO, tok=tiny_tokenizer_dir, ann='unused', test_ann=test_ann,
        videos=broken_videos, iters=1, interval=1,
        hooks="dict(type='DataHealthHook')"))
    proc = tool('test.py', cfg, '--work-dir', tmp_path / 'work')
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert '2 test sample(s) could not be read' in out
    assert 'missing.mp4: missing file' in out
    assert 'badframes.mp4: unreadable video' in out
    assert 'data/broken_samples: 2' in out
    # the metric saw 6 text-video pairs, not more (no ties between
    # identical placeholder clips counted as extra hits)
    for key in ('R1', 'R5'):
        value = float(re.search(rf'retrieval/{key}: ([0-9.]+)', out).group(1))
        assert abs(value * 6 / 100 - round(value * 6 / 100)) < 1e-3, value
    listed = (tmp_path / 'work' / 'broken_samples_test.jsonl').read_text()
    assert len(listed.splitlines()) == 2
