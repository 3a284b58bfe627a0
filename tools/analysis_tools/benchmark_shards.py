"""Clips/s per worker: WebVidShardDataset (tar shards, decoding from
memory) vs WebVidDataset (one file per video) on the same clips.

Clips: the WebVid-like H.264 files of ``benchmark_data.py`` (596x336,
25 fps, 10-30 s, generated once into ``--work-dir``; ``--variant`` picks
the re-encoded ones), packed by ``tools/data/make_shards.py``. Both datasets
run the config's ``train_pipeline`` (DecordInit ... PackVideoTextInputs;
the shard dataset runs DecordInit as DecordInitBytes) in this process with
one thread. The stream's i-th clip is timed (``next``: tar reading, shuffle
buffer, pipeline), then the file dataset reads the same video with the same
NumPy seed (same frame indices, checked), then the next clip: interleaved,
so drifting machine load hits both alike. Prints clips/s of each and their
ratio.

Example::

    python tools/analysis_tools/benchmark_shards.py --videos 12 --samples 96
"""
import argparse
import os
import os.path as osp
import statistics
import sys
import time

import numpy as np

HERE = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(osp.dirname(HERE))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--config', default='configs/simvtp/pretrain_vitb.py')
    p.add_argument('--tokenizer', help='local tokenizer folder')
    p.add_argument('--work-dir', default='work_dirs/bench_data')
    p.add_argument('--videos', type=int, default=12)
    p.add_argument('--min-seconds', type=float, default=10)
    p.add_argument('--max-seconds', type=float, default=30)
    p.add_argument('--size', default='596x336', help='WIDTHxHEIGHT')
    p.add_argument('--samples', type=int, default=96)
    p.add_argument('--variant', default='native',
                   choices=['native', 'short256', 'gop16',
                            'short256_gop16'])
    p.add_argument('--samples-per-shard', type=int, default=4)
    p.add_argument('--shuffle-buffer', type=int, default=8)
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    import torch
    torch.set_num_threads(1)
    sys.path[:0] = [ROOT, HERE, osp.join(ROOT, 'tools', 'data')]
    import benchmark_data as bench
    import make_shards
    import simvtp  # noqa: F401
    from mmengine.registry import init_default_scope

    from simvtp.datasets import WebVidShardDataset
    init_default_scope('simvtp')
    clip_args = bench.parse_args([
        '--config', args.config, '--work-dir', args.work_dir, '--videos',
        str(args.videos), '--variants', args.variant, '--size', args.size,
        '--min-seconds', str(args.min_seconds), '--max-seconds',
        str(args.max_seconds)] +
        (['--tokenizer', args.tokenizer] if args.tokenizer else []))
    folder = bench.make_clips(clip_args)[args.variant]
    cfg = bench.load_config(clip_args, bench.build_tokenizer(clip_args))
    files = bench.OursDataset(cfg, folder, args.videos, keyframe=False,
                              max_lead=0)
    shards_dir = osp.join(folder, f'shards{args.samples_per_shard}')
    make_shards.main([osp.join(folder, 'clips.csv'), folder, shards_dir,
                      '--samples-per-shard', str(args.samples_per_shard),
                      '--workers', '1', '--overwrite'])
    stream = iter(WebVidShardDataset(
        shards_dir, pipeline=files.dataset.pipeline.transforms,
        shuffle_buffer=args.shuffle_buffer, shuffle_initial=2, seed=0))
    index = {osp.basename(files.dataset.get_data_info(i)['filename']): i
             for i in range(args.videos)}
    print(f'{args.config}: {args.videos} clips '
          f'({bench.describe_clips(folder, args.videos)}), '
          f'{args.samples} samples, one process, one thread')
    times = dict(shards=[], files=[])
    for i in range(-2, args.samples):  # two warm-up samples
        np.random.seed(i % 10_000)
        t = time.perf_counter()
        item = next(stream)
        t_shard = time.perf_counter() - t
        meta = item['data_samples'].metainfo
        np.random.seed(i % 10_000)
        t = time.perf_counter()
        ref = files.dataset[index[osp.basename(meta['filename'])]]
        t_file = time.perf_counter() - t
        assert np.array_equal(meta['frame_inds'],
                              ref['data_samples'].metainfo['frame_inds'])
        if i >= 0:
            times['shards'].append(t_shard)
            times['files'].append(t_file)
    result = {k: dict(clips_per_s=len(v) / sum(v),
                      ms_median=1e3 * statistics.median(v))
              for k, v in times.items()}
    ratio = result['shards']['clips_per_s'] / result['files']['clips_per_s']
    for name, label in (('files', 'WebVidDataset (files)'),
                        ('shards', 'WebVidShardDataset (shards)')):
        r = result[name]
        print(f'  {label:<30} {r["clips_per_s"]:7.2f} clips/s  '
              f'{r["ms_median"]:7.1f} ms median')
    print(f'  shards / files: {ratio:.3f}x')
    result['ratio'] = ratio
    return result


if __name__ == '__main__':
    main()
