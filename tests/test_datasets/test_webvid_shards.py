"""Shards written by tools/data/make_shards.py, streamed by
WebVidShardDataset: each pair once per epoch over ranks x workers, the file
dataset's clips, broken samples skipped and counted, resumable writing,
mmengine Runner training."""
import csv
import json
import os
import sys
from collections import Counter
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.hooks import Hook
from mmengine.logging import MessageHub, MMLogger
from mmengine.registry import init_default_scope
from torch.utils.data import DataLoader

pytest.importorskip('webdataset')

from simvtp.datasets import WebVidDataset, WebVidShardDataset  # noqa: E402
from simvtp.engine.hooks import DataHealthHook  # noqa: E402
from simvtp.registry import DATASETS  # noqa: E402
from tests.conftest import write_video  # noqa: E402
from tests.tiny_model import tiny_geometry  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, 'tools', 'data'))
import make_shards  # noqa: E402

HEADER = ['videoid', 'contentUrl', 'duration', 'page_dir', 'name']
NUM_VIDEOS = 10


def clip_pipeline(init='DecordInitBytes', extra=()):
    return [dict(type=init),
            dict(type='SampleFrames', clip_len=3, frame_interval=2,
                 num_clips=1, test_mode=True),
            dict(type='DecordDecode')] + list(extra)


def write_ann(path, rows):
    with open(path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        w.writerows(rows)
    return str(path)


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    """10 videos in 3 folders, 14 pairs (videos 0-3 have two captions),
    packed 2 videos a shard (5 shards)."""
    root = tmp_path_factory.mktemp('shards')
    rows = []
    for i in range(NUM_VIDEOS):
        write_video(str(root / 'videos' / f'p{i % 3}' / f'{i}.mp4'),
                    num_frames=10, seed=i)
        rows.append([str(i), 'u', 'd', f'p{i % 3}', f'video {i} first'])
        if i < 4:
            rows.append([str(i), 'u', 'd', f'p{i % 3}', f'video {i} second'])
    ann = write_ann(root / 'train.csv', rows)
    manifest = make_shards.main([ann, str(root / 'videos'),
                                 str(root / 'out'), '--samples-per-shard',
                                 '2', '--workers', '2'])
    pairs = Counter((f'p{int(r[0]) % 3}/{r[0]}.mp4', r[4]) for r in rows)
    return SimpleNamespace(root=root, ann=ann, out=str(root / 'out'),
                           manifest=manifest, pairs=pairs)


def read_epochs(dataset, workers, epochs):
    """Per epoch: the (video, caption, bytes) this dataset yields."""
    loader = DataLoader(dataset, batch_size=2, num_workers=workers,
                        persistent_workers=workers > 0,
                        collate_fn=lambda batch: batch)
    out = []
    for _ in range(epochs):
        out.append([(s['filename'], s['text'], s['video_bytes'])
                    for batch in loader for s in batch])
    return out


def test_manifest_counts_and_checksums(data):
    m = data.manifest
    assert (m['num_shards'], m['num_videos'], m['num_captions']) == (5, 10,
                                                                     14)
    assert [s['videos'] for s in m['shards']] == [2] * 5
    assert sum(s['captions'] for s in m['shards']) == 14
    from simvtp.datasets.shard_format import sha256_file
    for shard in m['shards']:
        path = os.path.join(data.out, shard['name'])
        assert sha256_file(path) == shard['sha256']
        assert os.path.getsize(path) == shard['bytes']


def test_each_pair_once_per_epoch_over_2_ranks_x_2_workers(data):
    epochs = [[], []]
    for rank in range(2):
        ds = WebVidShardDataset(data.out, pipeline=[], rank=rank,
                                world_size=2, repeat=False,
                                shuffle_buffer=3, shuffle_initial=2)
        assert len(ds) == 7  # nominal: 14 pairs / 2 ranks
        for e, items in enumerate(read_epochs(ds, workers=2, epochs=2)):
            epochs[e].append(items)
    for per_rank in epochs:
        seen = Counter((v, t) for items in per_rank for v, t, _ in items)
        assert seen == data.pairs  # every pair, exactly once
        for items in per_rank:  # and the bytes are the files'
            for video, _, blob in items:
                assert blob == (data.root / 'videos' / video).read_bytes()
    order = [[(v, t) for items in per_rank for v, t, _ in items]
             for per_rank in epochs]
    assert order[0] != order[1]  # reshuffled


def test_repeat_streams_epoch_after_epoch(data):
    def stream(seed, count):
        items = iter(WebVidShardDataset(data.out, pipeline=[], seed=seed))
        return [(s['filename'], s['text']) for s, _ in zip(items,
                                                          range(count))]

    items = stream(3, 28)
    assert Counter(items[:14]) == Counter(items[14:]) == data.pairs
    assert items[:14] != items[14:]  # each epoch its own order
    assert stream(3, 14) == items[:14]  # the seed fixes the order
    assert stream(4, 14) != items[:14]


def test_decoded_clips_equal_the_file_dataset(data):
    init_default_scope('simvtp')
    files = WebVidDataset(data.ann, pipeline=clip_pipeline('DecordInit'),
                          data_prefix=dict(video=str(data.root / 'videos')))
    expected = {}
    for i in range(len(files)):
        item = files[i]
        expected[(os.path.relpath(item['filename'], data.root / 'videos'),
                  item['text'])] = item
    # the same pipeline config: its DecordInit runs as DecordInitBytes
    shards = WebVidShardDataset(data.out,
                                pipeline=clip_pipeline('DecordInit'))
    assert type(shards.pipeline.transforms[0]).__name__ == 'DecordInitBytes'
    seen = 0
    for item, _ in zip(shards, range(14)):
        ref = expected[(item['filename'], item['text'])]
        assert np.array_equal(item['frame_inds'], ref['frame_inds'])
        assert len(item['imgs']) == 3
        for a, b in zip(item['imgs'], ref['imgs']):
            assert np.array_equal(a, b)
        assert item['video_id'] == ref['video_id']
        assert item['text_id'] == ref['text_id']
        seen += 1
    assert seen == 14


@pytest.fixture(scope='module')
def broken(data, tmp_path_factory):
    """Shards with an undecodable video, an empty caption and a shard cut
    in half (its second video lost with it)."""
    root = tmp_path_factory.mktemp('broken')
    videos = data.root / 'videos'
    (videos / 'p0' / 'garbage.mp4').write_bytes(b'<html>not a video</html>')
    rows = [['garbage', 'u', 'd', 'p0', 'html saved as mp4']] + [
        [str(i), 'u', 'd', f'p{i % 3}', f'video {i}'] for i in range(6)]
    rows[3][4] = '   '  # video 2
    ann = write_ann(root / 'b.csv', rows)
    make_shards.main([ann, str(videos), str(root / 'out'),
                      '--samples-per-shard', '2', '--shuffle-seed', '-1',
                      '--workers', '1'])
    last = root / 'out' / 'shard-000002.tar'
    blob = last.read_bytes()
    last.write_bytes(blob[:len(blob) // 2])  # videos 3 and 4
    return str(root / 'out')


def test_broken_samples_skipped_marked_and_counted(broken, tiny_tokenizer_dir,
                                                   caplog):
    init_default_scope('simvtp')
    pipeline = clip_pipeline(extra=[
        dict(type='Resize', scale=(16, 16), keep_ratio=False),
        dict(type='FormatShape', input_format='NCTHW'),
        dict(type='TokenizeText', tokenizer=tiny_tokenizer_dir,
             max_length=8),
        dict(type='PackVideoTextInputs')])
    ds = WebVidShardDataset(broken, pipeline=pipeline, repeat=False,
                            shuffle_shards=False, shuffle_buffer=0)
    items = list(ds)
    texts = [s['data_samples'].metainfo['text'] for s in items]
    # shards [garbage, 0] [1, 2] [3, 4 (cut)] [5]: 3 may survive the cut
    assert texts[:2] == ['video 0', 'video 1'] and texts[-1] == 'video 5'
    assert 'video 4' not in texts and len(texts) <= 4
    marks = [m for s in items
             for m in s['data_samples'].metainfo.get('replaced', [])]
    reasons = ' | '.join(r for _, r in marks)
    assert 'empty or whitespace-only caption' in reasons
    assert 'unreadable video' in reasons and 'corrupt shard' in reasons
    assert any('garbage.mp4' in w for w, _ in marks)
    # the marks are what DataHealthHook counts in the main process
    hook = DataHealthHook(min_samples=1, max_failure_ratio=0.9)
    runner = SimpleNamespace(iter=0, logger=MMLogger.get_current_instance(),
                             message_hub=MessageHub.get_current_instance())
    hook.after_train_iter(runner, 0, data_batch=dict(data_samples=[
        s['data_samples'] for s in items]))
    hook.after_train_epoch(runner)
    assert hook.total['samples'] == len(items)
    assert hook.total['failures'] == len(marks) >= 3


def test_a_pipeline_that_always_fails_raises(data):
    def unreadable(results):  # a data error: skipped, counted
        raise OSError('boom')

    ds = WebVidShardDataset(data.out, pipeline=[unreadable], repeat=True,
                            max_consecutive_failures=3)
    with pytest.raises(RuntimeError, match='3 samples in a row.*boom'):
        next(iter(ds))


def test_a_programming_error_is_raised_at_once(data):
    def bug(results):  # a wrong config: never skipped
        return results['no_such_key']

    ds = WebVidShardDataset(data.out, pipeline=[bug], repeat=True)
    with pytest.raises(KeyError, match='no_such_key'):
        next(iter(ds))


def test_file_reading_pipeline_and_missing_shard_are_refused(data):
    init_default_scope('simvtp')
    with pytest.raises(ValueError, match='step 0 is PyAVInit'):
        WebVidShardDataset(data.out, pipeline=clip_pipeline('PyAVInit'))
    manifest = json.load(open(os.path.join(data.out, 'manifest.json')))
    manifest['shards'][1]['name'] = 'gone.tar'
    edited = os.path.join(data.out, 'edited_manifest.json')  # same folder
    with open(edited, 'w') as f:
        json.dump(manifest, f)
    with pytest.raises(FileNotFoundError, match='1 shard.*gone.tar'):
        WebVidShardDataset(edited)
    ds = DATASETS.build(dict(type='WebVidShardDataset', manifest=data.out,
                             world_size=8, rank=0))
    with pytest.raises(RuntimeError, match='5 shard.*8 ranks'):
        next(iter(ds))


def test_make_shards_resumes_per_shard(data, tmp_path):
    out = tmp_path / 'out'
    args = [data.ann, str(data.root / 'videos'), str(out),
            '--samples-per-shard', '3', '--workers', '1']
    first = make_shards.main(args)
    stamps = {n: os.stat(out / n).st_mtime_ns for n in os.listdir(out)
              if n.endswith('.tar')}
    os.remove(out / 'shard-000001.tar')  # as if killed while writing it
    (out / 'shard-000002.tar').write_bytes(b'half')  # not its recorded size
    again = make_shards.main(args)
    assert again['shards'] == first['shards']  # same bytes, same checksums
    for name, stamp in stamps.items():
        if name not in ('shard-000001.tar', 'shard-000002.tar'):
            assert os.stat(out / name).st_mtime_ns == stamp  # not rewritten
    with pytest.raises(SystemExit, match='samples_per_shard: 3 -> 2'):
        make_shards.main(args[:4] + ['2', '--workers', '1'])


def runner_cfg(data, tokenizer, work_dir, loop, max_iters, buffer=4):
    """The synthetic config's model (tiny) on webvid_shards.py's loader."""
    from mmengine.config import Config
    cfg = Config.fromfile(os.path.join(ROOT, 'configs', 'simvtp',
                                       'pretrain_synthetic.py'))
    shards = Config.fromfile(os.path.join(ROOT, 'configs', '_base_',
                                          'datasets', 'webvid_shards.py'))
    loader = shards.train_dataloader
    loader.update(batch_size=4, num_workers=2, pin_memory=False)
    loader.dataset.update(manifest=data.out, shuffle_buffer=buffer,
                          shuffle_initial=2)
    steps = {s['type']: s for s in loader.dataset.pipeline}
    steps['SampleFrames'].update(clip_len=4, frame_interval=2)
    steps['MultiScaleCrop'].update(input_size=32)
    steps['Resize'].update(scale=(32, 32))
    steps['TubeMasking'].update(mask_ratio=0.5)
    steps['TokenizeText'].update(tokenizer=tokenizer, max_length=8)
    cfg.merge_from_dict(dict(
        model=tiny_geometry(vocab=32),
        default_hooks=dict(logger=dict(interval=1), checkpoint=dict(
            by_epoch=False, interval=3, max_keep_ckpts=-1)),
        log_processor=dict(by_epoch=False)))
    cfg.train_dataloader = loader
    cfg.train_cfg = dict(type=loop, max_iters=max_iters)
    cfg.param_scheduler = [dict(type='LinearLR', start_factor=0.1,
                                by_epoch=True, begin=0, end=1,
                                convert_to_iter_based=True)]
    cfg.custom_hooks = [dict(type='DataHealthHook', min_samples=1),
                        dict(type='StreamResumeHook')]
    cfg.test_dataloader = cfg.test_evaluator = cfg.test_cfg = None
    cfg.work_dir = str(work_dir)
    return cfg


class Recorder(Hook):
    """Records (video, caption) of every trained batch."""

    def __init__(self):
        self.batches = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.batches.append([(s.metainfo['filename'], s.metainfo['text'])
                             for s in data_batch['data_samples']])


def train(cfg, resume_from=None):
    from mmengine.runner import Runner
    cfg.resume, cfg.load_from = resume_from is not None, resume_from
    runner = Runner.from_cfg(cfg)
    recorder = Recorder()
    runner.register_hook(recorder, 'LOWEST')
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # 2 cores, 2 dataloader workers
    try:
        runner.train()
    finally:
        torch.set_num_threads(threads)
    return runner, recorder.batches


def test_runner_trains_iteration_based_from_shards(data, tiny_tokenizer_dir,
                                                   tmp_path):
    """configs/_base_/datasets/webvid_shards.py's dataloader under
    mmengine's Runner: IterBasedTrainLoop, 2 persistent workers, an
    epoch-based warm-up converted with the nominal epoch length."""
    cfg = runner_cfg(data, tiny_tokenizer_dir, tmp_path, 'IterBasedTrainLoop',
                     max_iters=5)
    runner, batches = train(cfg)
    assert runner.iter == 5  # past the 3-iteration nominal epoch
    assert len(runner.train_dataloader) == 3  # 14 pairs // 4 (drop_last)
    hook = next(h for h in runner.hooks if isinstance(h, DataHealthHook))
    # 'video 3 first' is all [UNK] to the tiny vocabulary: a warning each
    assert hook.total == dict(samples=20, failures=0, warnings=20)
    lrs = runner.message_hub.get_scalar('train/lr').data[0]
    assert lrs[-1] == pytest.approx(cfg.optim_wrapper.optimizer.lr)
    assert lrs[0] < lrs[-1]  # the warm-up ran over iterations
    # batches alternate between the 2 workers' streams; every pair of the
    # first epoch comes before any pair's second reading
    seen = Counter(p for b in batches for p in b)
    assert set(seen) <= set(data.pairs) and len(seen) >= 12


def test_resume_skips_the_trained_shards(data, tiny_tokenizer_dir,
                                         tmp_path):
    """ResumableIterBasedTrainLoop + StreamResumeHook: a run resumed at
    iteration 3 trains on the batches the straight run trained on next
    (exact without a shuffle buffer), past an epoch boundary."""
    loop = 'ResumableIterBasedTrainLoop'
    _, straight = train(runner_cfg(data, tiny_tokenizer_dir,
                                   tmp_path / 'a', loop, 6, buffer=0))
    runner, resumed = train(runner_cfg(data, tiny_tokenizer_dir,
                                       tmp_path / 'b', loop, 6, buffer=0),
                            resume_from=str(tmp_path / 'a' / 'iter_3.pth'))
    assert runner.iter == 6
    assert resumed == straight[3:]  # 12 of 14 pairs trained: crosses epochs
