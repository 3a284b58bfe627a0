"""Throughput and memory of tools/data/download_videos.py against a
loopback server (tools/data/loopback_server.py, in its own process).

The server answers ``/ok/NAME`` with one small generated mp4 for every NAME;
the benchmark writes a ``url,path`` CSV of ``--urls`` rows (100 folders),
runs the downloader as a subprocess with ``--connections`` connections (all
to one host, so ``--per-host`` is the same), samples its resident memory
(VmRSS) twice a second, and prints files/s (the tool's own clock and the
wall clock including start-up), MB/s and RSS over the run: at 10%, 50%,
90% of the samples and the peak. Every download is validated (decord opens
it and decodes its first and last frames) as in real use.

Example (the figures in the data-preparation notes)::

    python tools/analysis_tools/benchmark_download.py --urls 20000 \\
        --connections 32
"""
import argparse
import csv
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOLS = osp.join(ROOT, 'tools', 'data')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--urls', type=int, default=20000)
    p.add_argument('--connections', type=int, default=32)
    p.add_argument('--frames', type=int, default=12,
                   help='frames of the served mp4 (64x48)')
    p.add_argument('--validate', default='frames',
                   choices=['frames', 'open', 'none'])
    p.add_argument('--work-dir', help='default: a temporary folder, '
                   'removed afterwards')
    return p.parse_args(argv)


def rss_mb(pid: int) -> float:
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024
    return 0.0


def main(argv=None) -> dict:
    args = parse_args(argv)
    sys.path.insert(0, ROOT)
    from tests.conftest import write_video
    work = args.work_dir or tempfile.mkdtemp(prefix='bench_download_')
    keep = args.work_dir is not None
    video = osp.join(work, 'served.mp4')
    write_video(video, num_frames=args.frames)
    server = subprocess.Popen([sys.executable,
                               osp.join(TOOLS, 'loopback_server.py'), video],
                              stdout=subprocess.PIPE, text=True)
    try:
        base = server.stdout.readline().strip()
        ann = osp.join(work, 'urls.csv')
        with open(ann, 'w', newline='') as f:
            writer = csv.writer(f)
            writer.writerow(['url', 'path'])
            for i in range(args.urls):
                writer.writerow([f'{base}/ok/{i}.mp4',
                                 f'{i % 100:02d}/{i}.mp4'])
        out = osp.join(work, 'out')
        shutil.rmtree(out, ignore_errors=True)
        summary_path = osp.join(work, 'summary.json')
        cmd = [sys.executable, osp.join(TOOLS, 'download_videos.py'), ann,
               out, '--connections', str(args.connections), '--per-host',
               str(args.connections), '--validate', args.validate,
               '--no-progress', '--summary-json', summary_path]
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                env=dict(os.environ, PYTHONPATH=ROOT))
        samples = []
        while proc.poll() is None:
            try:
                samples.append(rss_mb(proc.pid))
            except (FileNotFoundError, ProcessLookupError):
                break
            time.sleep(0.5)
        wall = time.perf_counter() - start
        if proc.returncode:
            raise SystemExit(f'the downloader failed ({proc.returncode})')
        with open(summary_path) as f:
            summary = json.load(f)
    finally:
        server.terminate()
        server.wait()
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    samples = [s for s in samples if s > 0] or [0.0]

    def at(q):
        return samples[min(len(samples) - 1, int(q * len(samples)))]

    result = dict(urls=args.urls, connections=args.connections,
                  ok=summary['ok'], failed=summary['failed'],
                  files_per_s=summary['files_per_s'],
                  files_per_s_wall=round(summary['ok'] / wall, 2),
                  mb_per_s=round(summary['bytes'] / 1e6 /
                                 summary['seconds'], 2),
                  rss_mb=dict(p10=round(at(0.1), 1), p50=round(at(0.5), 1),
                              p90=round(at(0.9), 1),
                              peak=round(max(samples), 1)),
                  cpus=os.cpu_count())
    print(f'{args.urls} URLs, {args.connections} connections to one '
          f'loopback host, {os.cpu_count()} CPU cores, validation: '
          f'{args.validate}')
    print(f'  downloaded {result["ok"]}, failed {result["failed"]}: '
          f'{result["files_per_s"]} files/s ({result["files_per_s_wall"]} '
          f'with start-up), {result["mb_per_s"]} MB/s')
    r = result['rss_mb']
    print(f'  downloader RSS: {r["p10"]} MB at 10% of the run, {r["p50"]} '
          f'at 50%, {r["p90"]} at 90%, peak {r["peak"]} MB')
    return result


if __name__ == '__main__':
    main()
