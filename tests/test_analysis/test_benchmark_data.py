"""benchmark_data.py and benchmark_annotations.py on tiny inputs."""
import os.path as osp

import pytest

from tests.tool_loader import import_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOLS = osp.join(ROOT, 'tools', 'analysis_tools')
CONFIG = osp.join(ROOT, 'configs', 'simvtp', 'pretrain_synthetic.py')


def load(name):
    return import_tool('analysis_tools', name)


def test_benchmark_data_reports_every_method(tmp_path, capsys):
    pytest.importorskip('av')
    bench = load('benchmark_data')
    results = bench.main([
        '--config', CONFIG, '--work-dir', str(tmp_path), '--videos', '2',
        '--min-seconds', '3', '--max-seconds', '3.2', '--size', '64x48',
        '--samples', '3', '--variants', 'native', 'gop16', '--workers', '1',
        '--worker-variants', 'gop16'])
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()
             if 'frames apart' in line}
    assert '64x48' in lines['native'] and '16 frames apart' in lines['gop16']
    assert '16 frames apart' not in lines['native']  # one keyframe per clip
    native = results['per_worker']['native']
    assert set(native) == {'raw', 'reference', 'ours', 'ours_keyframe'}
    span = (8 - 1) * 4 + 1  # synthetic config: 8 frames, interval 4
    # one keyframe at 0: keyframe sampling decodes exactly one span; the
    # others decode from frame 0 to wherever the clip ends
    assert native['ours_keyframe']['decoded_per_clip'] == span
    for method in ('raw', 'reference', 'ours'):
        assert native[method]['decoded_per_clip'] >= span
    # the same sample numbers give the same frames to raw and ours
    assert native['raw']['decoded_per_clip'] == \
        native['ours']['decoded_per_clip']
    assert results['per_worker']['gop16']['ours']['decoded_per_clip'] < \
        span + 16
    assert all(v > 0 for v in results['workers']['gop16/1'].values())


def test_benchmark_data_compares_decoders_on_the_same_frames(tmp_path):
    pytest.importorskip('av')
    try:
        from torchcodec.decoders import VideoDecoder  # noqa: F401
    except (ImportError, OSError, RuntimeError) as err:
        pytest.skip(f'torchcodec not usable here: {err}')
    bench = load('benchmark_data')
    results = bench.main([
        '--config', CONFIG, '--work-dir', str(tmp_path), '--videos', '2',
        '--min-seconds', '3', '--max-seconds', '3.2', '--size', '64x48',
        '--samples', '2', '--variants', 'gop16', '--workers',
        '--methods', 'raw', 'raw_torchcodec', 'ours', 'ours_torchcodec'])
    r = results['per_worker']['gop16']
    assert set(r) == {'raw', 'raw_torchcodec', 'ours', 'ours_torchcodec'}
    # same sample numbers, same frames: the same decoded spans
    spans = {m: v['decoded_per_clip'] for m, v in r.items()}
    assert len(set(spans.values())) == 1, spans
    assert all(v['clips_per_s'] > 0 for v in r.values())


def test_benchmark_annotations_reads_every_row(tmp_path, capsys):
    bench = load('benchmark_annotations')
    results = bench.main(['--rows', '300', '--workers', '2', '--work-dir',
                          str(tmp_path), '--storages', 'table', '--batch',
                          '64'])['results']
    full = results[0]['full']
    assert full['items'] == 300 and full['seen'] == 300
    assert full['processes'] == 3  # main + 2 workers
    assert results[0]['empty']['items'] == 1
    assert set(results[0]['growth']) == {'rss', 'pss', 'uss'}
    with open(tmp_path / 'webvid_300.csv') as f:
        header = f.readline().strip()
    assert header == 'videoid,contentUrl,duration,page_dir,name'
    assert 'growth over the 1-row file' in capsys.readouterr().out
