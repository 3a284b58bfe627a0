"""Download the videos of a WebVid-style CSV: resumable, validated, polite.

    python tools/data/download_videos.py ANN OUT_ROOT [--connections 32]
        [--per-host 16] [--rate-limit R] [--retry-failed]
        [--part I --num-parts N] [--reencode --short-side 256 --gop 16]

``ANN`` is WebVid's CSV (``videoid,contentUrl,duration,page_dir,name``;
videos go to ``OUT_ROOT/{page_dir}/{videoid}.mp4``, ``--video-template``
changes that) or any CSV with columns ``url,path``. WebVid's own URL lists
were withdrawn in 2024: bring your own CSV.

A file counts only when the server said 200, the content type is not an
error page, the body is complete and the file decodes as a video; it is
written under ``OUT_ROOT/.download_tmp/`` and renamed into place, so a final
name never holds a partial file. Re-run the same command to resume: present
files are skipped (after checking they open), and so are the rows of the
failure ledger (``OUT_ROOT/download_failures.jsonl``, one JSON object per
failure with its reason); ``--retry-failed`` retries only those.

Timeouts, dropped connections, 408/429/5xx are retried (exponential backoff
with jitter, ``Retry-After`` honoured); 403/404 and other 4xx are not.
Several machines: ``--part I --num-parts N`` (or torchrun's RANK/WORLD_SIZE,
or Slurm's SLURM_PROCID/SLURM_NTASKS) takes every N-th row; each part keeps
its own ledger. ``--reencode`` re-encodes each file on the fly with
``tools/data/resize_videos.py``'s step (short side, keyframe interval).
Needs ``pip install aiohttp`` (``av`` too for ``--reencode``).
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from downloader import (WEBVID_TEMPLATE, Downloader, Options,  # noqa: E402
                        part_from_env, read_tasks)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('ann', help='WebVid CSV or a url,path CSV')
    p.add_argument('out_root', help='output folder')
    p.add_argument('--format', choices=['auto', 'webvid', 'urls'],
                   default='auto')
    p.add_argument('--video-template', default=WEBVID_TEMPLATE,
                   help='WebVid CSV: row -> video path under OUT_ROOT')
    p.add_argument('--connections', type=int, default=32,
                   help='concurrent downloads in all')
    p.add_argument('--per-host', type=int, default=16,
                   help='concurrent downloads per host')
    p.add_argument('--rate-limit', type=float, default=0.0,
                   help='request starts per second per host (0: no limit)')
    p.add_argument('--retries', type=int, default=5,
                   help='extra tries after a retryable failure')
    p.add_argument('--backoff', type=float, default=1.0,
                   help='first backoff in seconds (doubles each try)')
    p.add_argument('--max-backoff', type=float, default=60.0)
    p.add_argument('--max-retry-after', type=float, default=600.0,
                   help='a longer Retry-After fails the file')
    p.add_argument('--timeout', type=float, default=300.0,
                   help='seconds for a whole download')
    p.add_argument('--connect-timeout', type=float, default=10.0)
    p.add_argument('--read-timeout', type=float, default=30.0,
                   help='seconds without a byte before a stall is retried')
    p.add_argument('--max-mb', type=float, default=0.0,
                   help='refuse larger files (0: no limit)')
    p.add_argument('--validate', choices=['frames', 'open', 'none'],
                   default='frames', help='frames: the file opens and its '
                   'first and last frames decode; open: it opens')
    p.add_argument('--check-existing', choices=['open', 'size'],
                   default='open', help='a present file is kept when it '
                   'opens as a video (open) or is non-empty (size)')
    p.add_argument('--workers', type=int, default=os.cpu_count() or 1,
                   help='threads for validation / re-encoding')
    p.add_argument('--ledger', help='failure ledger (default: OUT_ROOT/'
                   'download_failures[.partI-of-N].jsonl)')
    p.add_argument('--retry-failed', action='store_true',
                   help='retry only the rows of the ledger')
    p.add_argument('--part', type=int, help='this part (0-based)')
    p.add_argument('--num-parts', type=int, help='number of parts')
    p.add_argument('--reencode', action='store_true',
                   help='re-encode each download (needs av)')
    p.add_argument('--short-side', type=int, default=256,
                   help='--reencode: shorter side (0 keeps the size)')
    p.add_argument('--gop', type=int, default=16,
                   help='--reencode: keyframe interval in frames')
    p.add_argument('--crf', type=int, default=23)
    p.add_argument('--preset', default='veryfast')
    p.add_argument('--no-progress', action='store_true')
    p.add_argument('--summary-json', help='also write the summary here')
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    part, num_parts = part_from_env(args.part, args.num_parts)
    suffix = '' if num_parts == 1 else f'.part{part}-of-{num_parts}'
    ledger = args.ledger or osp.join(args.out_root,
                                     f'download_failures{suffix}.jsonl')
    reencode = None
    if args.reencode:
        from simvtp.utils.video_encoding import import_av
        import_av()  # the install hint now, not once per file
        reencode = dict(short_side=args.short_side or None, gop=args.gop,
                        crf=args.crf, preset=args.preset)
    options = Options(
        connections=args.connections, per_host=args.per_host,
        rate_limit=args.rate_limit, retries=args.retries,
        backoff=args.backoff, max_backoff=args.max_backoff,
        max_retry_after=args.max_retry_after, timeout=args.timeout,
        connect_timeout=args.connect_timeout, read_timeout=args.read_timeout,
        max_bytes=int(args.max_mb * 1e6), validate=args.validate,
        check_existing=args.check_existing, workers=args.workers,
        reencode=reencode)

    def tasks():
        return read_tasks(args.ann, args.format, args.video_template, part,
                          num_parts)

    # a first pass validates every row (errors name the row before anything
    # is downloaded) and sizes the progress bar
    total = sum(1 for _ in tasks())
    if args.retry_failed:
        from downloader import Ledger
        failed = Ledger(ledger).load()
        total = sum(1 for t in tasks() if t.path in failed)
    print(f'{args.ann}: {total} {"ledgered " if args.retry_failed else ""}'
          f'rows in part {part} of {num_parts} -> {args.out_root}')
    bar = None
    if not args.no_progress:
        from tqdm import tqdm
        bar = tqdm(total=total, unit='file', dynamic_ncols=True,
                   smoothing=0.05)
    downloader = Downloader(args.out_root, ledger, options,
                            progress=bar.update if bar else None,
                            temp_name=f'part-{part}')
    try:
        summary = downloader.run(tasks(), retry_failed=args.retry_failed)
    finally:
        if bar is not None:
            bar.close()
    print(summary.report())
    if summary.failed:
        print(f'failures are listed in {ledger}')
    if args.summary_json:
        with open(args.summary_json, 'w', encoding='utf-8') as f:
            json.dump(summary.as_dict(), f, indent=1)
    return summary.as_dict()


if __name__ == '__main__':
    main()  # failed rows are normal at WebVid scale: see the ledger
