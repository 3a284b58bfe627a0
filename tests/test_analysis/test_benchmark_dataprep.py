"""benchmark_download.py and benchmark_shards.py on tiny inputs."""
import pytest

from tests.test_analysis.test_benchmark_data import CONFIG, load


def test_benchmark_download_reports_rate_and_memory(tmp_path, capsys):
    pytest.importorskip('aiohttp')
    result = load('benchmark_download').main([
        '--urls', '40', '--connections', '4', '--work-dir', str(tmp_path)])
    assert (result['ok'], result['failed']) == (40, 0)
    assert result['files_per_s'] > 0 and result['rss_mb']['peak'] > 0
    assert len(list((tmp_path / 'out').rglob('*.mp4'))) == 40
    assert 'files/s' in capsys.readouterr().out


def test_benchmark_shards_reads_the_same_clips(tmp_path, capsys):
    pytest.importorskip('av')
    pytest.importorskip('webdataset')
    result = load('benchmark_shards').main([
        '--config', CONFIG, '--work-dir', str(tmp_path), '--videos', '3',
        '--min-seconds', '3', '--max-seconds', '3.2', '--size', '64x48',
        '--samples', '6', '--samples-per-shard', '2'])
    assert result['files']['clips_per_s'] > 0
    assert result['ratio'] == pytest.approx(
        result['shards']['clips_per_s'] / result['files']['clips_per_s'])
    assert 'shards / files' in capsys.readouterr().out
