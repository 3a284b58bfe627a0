"""tools/data/download_videos.py against a loopback server with scripted
failures (tools/data/loopback_server.py): every case ends in the right
state, a killed run resumes without downloading finished files again, and a
final name never holds a partial file."""
import asyncio
import csv
import json
import os
import signal
import subprocess
import sys
import time

import decord
import pytest

pytest.importorskip('aiohttp')

from tests.conftest import write_video  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
TOOLS = os.path.join(ROOT, 'tools', 'data')
sys.path.insert(0, TOOLS)
import download_videos  # noqa: E402
from downloader import (AnnotationError, HostLimiter,  # noqa: E402
                        part_from_env, read_tasks, retry_after_seconds)
from loopback_server import LoopbackServer  # noqa: E402

# a 2 s read timeout: 1 s let a loaded 2-core machine time out a healthy
# loopback response now and then (one hit too many on a recovering route)
FAST = ['--no-progress', '--retries', '2', '--backoff', '0.05',
        '--read-timeout', '2', '--workers', '2']


@pytest.fixture(scope='module')
def mp4(tmp_path_factory):
    path = tmp_path_factory.mktemp('src') / 'a.mp4'
    write_video(str(path), num_frames=8)
    return path.read_bytes()


def write_csv(path, header, rows):
    with open(path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return str(path)


def final_files(root):
    """Relative paths of everything under root except the ledger."""
    found = []
    for base, _, names in os.walk(root):
        for name in names:
            rel = os.path.relpath(os.path.join(base, name), root)
            if not rel.startswith('download_failures'):
                found.append(rel)
    return sorted(found)


def ledger(root, name='download_failures.jsonl'):
    with open(os.path.join(root, name)) as f:
        return {e['path']: e for e in map(json.loads, f)}


CASES = {  # videoid: (route, expected: None = downloaded, else reason)
    'ok': ('/ok/a.mp4', None),
    'forbidden': ('/status/403/a.mp4', 'HTTP 403'),
    'missing': ('/status/404/a.mp4', 'HTTP 404'),
    'limited': ('/retry-after/1/1/a.mp4', None),
    'flaky': ('/flaky/1/a.mp4', None),
    'stalled': ('/stall/1/a.mp4', None),
    'stalls': ('/stall/9/a.mp4', 'timeout'),
    'truncated': ('/truncate/a.mp4', 'truncated body'),
    'html': ('/html/a.mp4', 'content type text/html'),
    'lying': ('/fake/a.mp4', 'invalid video'),
    'moved': ('/redirect/a.mp4', None),
}


def test_every_case_ends_in_its_state_and_reruns_skip(mp4, tmp_path):
    out = tmp_path / 'out'
    with LoopbackServer({'a.mp4': mp4}, stall_seconds=6) as server:
        ann = write_csv(tmp_path / 'results_2M_train.csv',
                        ['videoid', 'contentUrl', 'duration', 'page_dir',
                         'name'],
                        [[vid, server.url(route), 'PT00H00M05S', 'page',
                          f'caption {vid}']
                         for vid, (route, _) in CASES.items()])
        result = download_videos.main([ann, str(out)] + FAST)
        hits = dict(server.hits)
        times = {k: list(v) for k, v in server.times.items()}

        good = sorted(f'page/{v}.mp4' for v, (_, r) in CASES.items()
                      if r is None)
        assert final_files(out) == good  # no temporary, nothing failed
        for rel in good:
            assert (out / rel).read_bytes() == mp4
        failures = ledger(out)
        assert {p: e['reason'].split(' (')[0] for p, e in failures.items()} \
            == {f'page/{v}.mp4': r for v, (_, r) in CASES.items() if r}
        assert failures['page/forbidden.mp4']['status'] == 403
        assert failures['page/missing.mp4']['row'] == 4  # CSV line
        assert result['ok'] == len(good)
        assert result['failed'] == len(CASES) - len(good)
        # 403/404, error pages and invalid videos are not retried
        for route in ('/status/403/a.mp4', '/status/404/a.mp4',
                      '/html/a.mp4', '/fake/a.mp4'):
            assert hits[route] == 1, route
        # transient failures are: once for the recovering routes, twice
        # more (--retries 2) for those that never recover
        for route in ('/retry-after/1/1/a.mp4', '/flaky/1/a.mp4',
                      '/stall/1/a.mp4'):
            assert hits[route] == 2, route
        # ... and three attempts for those that never recover (the ledger
        # keeps the last reason). An attempt can end on a pooled keep-alive
        # connection the server had already closed ('connection error',
        # retried) without reaching it: 2 requests seen for 3 attempts
        # happened in full-suite runs, so the server's count is a range
        assert failures['page/stalls.mp4']['attempts'] == 3
        assert failures['page/truncated.mp4']['attempts'] == 3
        for route in ('/stall/9/a.mp4', '/truncate/a.mp4'):
            assert 2 <= hits[route] <= 3, route
        first, second = times['/retry-after/1/1/a.mp4']
        assert second - first >= 1.0  # Retry-After: 1 was honoured
        assert hits['/ok/a.mp4'] == 2  # the row itself and the redirect

        # a second run downloads nothing: present files and ledgered rows
        again = download_videos.main([ann, str(out)] + FAST)
        assert dict(server.hits) == hits
    assert (again['ok'], again['present'], again['skipped_failed']) == (
        0, len(good), len(CASES) - len(good))


def test_retry_failed_retries_only_the_ledger(mp4, tmp_path):
    out = tmp_path / 'out'
    with LoopbackServer({'a.mp4': mp4, 'b.mp4': mp4}) as server:
        ann = write_csv(tmp_path / 'urls.csv', ['url', 'path'], [
            [server.url('/ok/a.mp4'), 'x/a.mp4'],
            [server.url('/ok/b.mp4'), 'x/b.mp4'],
            [server.url('/status/404/c.mp4'), 'x/c.mp4']])
        server.gone.add('b.mp4')  # a dead link that comes back later
        download_videos.main([ann, str(out)] + FAST)
        assert set(ledger(out)) == {'x/b.mp4', 'x/c.mp4'}
        server.gone.clear()
        download_videos.main([ann, str(out)] + FAST)  # plain rerun: skips
        assert server.hits['/ok/b.mp4'] == 1
        result = download_videos.main([ann, str(out), '--retry-failed'] +
                                      FAST)
        assert server.hits['/ok/a.mp4'] == 1  # not in the ledger
        assert server.hits['/ok/b.mp4'] == 2
    assert (result['ok'], result['failed']) == (1, 1)
    assert (out / 'x' / 'b.mp4').read_bytes() == mp4
    assert set(ledger(out)) == {'x/c.mp4'}  # rewritten: what still fails


def test_killed_run_resumes_and_never_exposes_partial_files(mp4, tmp_path):
    out = tmp_path / 'out'
    count = 24
    with LoopbackServer(default=mp4) as server:
        ann = write_csv(tmp_path / 'urls.csv', ['url', 'path'], [
            [server.url(f'/slow/250/{i}.mp4'), f'd{i % 3}/{i}.mp4']
            for i in range(count)])
        env = dict(os.environ, PYTHONPATH=ROOT)
        proc = subprocess.Popen(
            [sys.executable, os.path.join(TOOLS, 'download_videos.py'), ann,
             str(out), '--connections', '4', '--no-progress'], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        try:
            while time.monotonic() < deadline and proc.poll() is None:
                done = [f for f in final_files(out)
                        if not f.startswith('.download_tmp')]
                # every final name holds the whole file, at every moment
                for rel in done:
                    assert (out / rel).read_bytes() == mp4, rel
                if len(done) >= 6:
                    break
                time.sleep(0.02)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        done = [f for f in final_files(out)
                if not f.startswith('.download_tmp')]
        assert 6 <= len(done) < count
        before = dict(server.hits)
        result = download_videos.main([ann, str(out)] + FAST)
        for rel in done:  # not requested again
            name = os.path.basename(rel)
            assert server.hits[f'/slow/250/{name}'] == before[
                f'/slow/250/{name}']
    assert result['present'] == len(done)
    assert result['ok'] == count - len(done)
    assert final_files(out) == sorted(f'd{i % 3}/{i}.mp4'
                                      for i in range(count))


def test_per_host_limit_and_rate_limit(mp4, tmp_path):
    with LoopbackServer(default=mp4) as server:
        ann = write_csv(tmp_path / 'urls.csv', ['url', 'path'], [
            [server.url(f'/slow/300/{i}.mp4'), f'{i}.mp4']
            for i in range(6)])
        download_videos.main([ann, str(tmp_path / 'a'), '--connections',
                              '6', '--per-host', '2'] + FAST)
        assert server.max_inflight == 2
        ann = write_csv(tmp_path / 'urls2.csv', ['url', 'path'], [
            [server.url(f'/ok/{i}.mp4'), f'{i}.mp4'] for i in range(5)])
        download_videos.main([ann, str(tmp_path / 'b'), '--rate-limit',
                              '20'] + FAST)
        starts = sorted(server.times[f'/ok/{i}.mp4'][0] for i in range(5))
    # 20 requests/s: 4 gaps of 50 ms (arrival jitter allowed for)
    assert starts[-1] - starts[0] >= 0.1


def test_host_limiter_spaces_starts_and_pauses():
    async def starts(rate, pause=0.0):
        limiter = HostLimiter(concurrency=5, rate=rate)
        loop = asyncio.get_running_loop()
        begin = loop.time()
        if pause:
            limiter.pause(pause)  # a Retry-After for the whole host
        times = []
        for _ in range(4):
            await limiter.acquire()
            times.append(loop.time() - begin)
            limiter.release()
        return times

    times = asyncio.run(starts(20))
    assert all(b - a >= 0.049 for a, b in zip(times, times[1:]))
    assert asyncio.run(starts(0, pause=0.2))[0] >= 0.199


def test_parts_split_rows_and_bad_rows_are_named(tmp_path, monkeypatch):
    ann = write_csv(tmp_path / 'urls.csv', ['url', 'path'],
                    [[f'http://h/{i}', f'{i}.mp4'] for i in range(7)])
    monkeypatch.setenv('RANK', '1')
    monkeypatch.setenv('WORLD_SIZE', '2')
    assert part_from_env(None, None) == (1, 2)
    assert part_from_env(0, 3) == (0, 3)
    parts = [[t.path for t in read_tasks(ann, part=p, num_parts=2)]
             for p in range(2)]
    assert parts[0] == ['0.mp4', '2.mp4', '4.mp4', '6.mp4']
    assert parts[1] == ['1.mp4', '3.mp4', '5.mp4']
    webvid = write_csv(tmp_path / 'w.csv', ['videoid', 'contentUrl',
                                            'page_dir', 'name'],
                       [['7', 'http://h/7', 'p1', 'c']])
    assert [(t.url, t.path) for t in read_tasks(webvid)] == [
        ('http://h/7', 'p1/7.mp4')]
    for rows, message in [
            ([['http://h/a', '../escape.mp4']], 'row 2: the video path'),
            ([['http://h/a', 'a.mp4'], ['ftp://h/b', 'b.mp4']],
             'row 3: not an http'),
            ([['http://h/a', 'a.mp4', 'extra']], 'row 2: expected 2 fields')]:
        bad = write_csv(tmp_path / 'bad.csv', ['url', 'path'], rows)
        with pytest.raises(AnnotationError, match=message) as err:
            list(read_tasks(bad))
        assert 'bad.csv' in str(err.value)
    bad = write_csv(tmp_path / 'cols.csv', ['link', 'file'], [['a', 'b']])
    with pytest.raises(AnnotationError, match='cols.csv: cannot tell'):
        list(read_tasks(bad))


def test_retry_after_header_forms():
    import email.utils
    assert retry_after_seconds('120') == 120.0
    when = email.utils.formatdate(time.time() + 60, usegmt=True)
    assert 55 <= retry_after_seconds(when) <= 60
    assert retry_after_seconds('soon') is None
    assert retry_after_seconds(None) is None


def test_reencode_on_the_fly(tmp_path):
    pytest.importorskip('av')
    from simvtp.utils.video_encoding import write_h264
    import numpy as np
    src = tmp_path / 'src.mp4'
    frames = [np.full((48, 80, 3), 10 * t, np.uint8) for t in range(12)]
    write_h264(str(src), frames, 10, gop=250)
    with LoopbackServer({'v.mp4': src.read_bytes()}) as server:
        ann = write_csv(tmp_path / 'urls.csv', ['url', 'path'],
                        [[server.url('/ok/v.mp4'), 'v.mp4']])
        result = download_videos.main([ann, str(tmp_path / 'out'),
                                       '--reencode', '--short-side', '24',
                                       '--gop', '4'] + FAST)
    assert result['ok'] == 1
    reader = decord.VideoReader(str(tmp_path / 'out' / 'v.mp4'))
    assert reader[0].shape == (24, 40, 3) and len(reader) == 12
    assert list(reader.get_key_indices()) == [0, 4, 8]
    assert reader.get_avg_fps() == pytest.approx(10)
