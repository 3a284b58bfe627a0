"""Pre-resize a video folder (and shorten its keyframe interval) for training.

Decoding is what bounds a video data pipeline (see
``tools/analysis_tools/benchmark_data.py``). Two properties of the files
decide its cost, and both can be fixed once, offline:

* pixels per frame: WebVid's 596x336 clips are cropped and resized to
  224x224 anyway; ``--short-side 256`` decodes ~1.7x fewer pixels;
* keyframe interval: a clip that starts mid-GOP is decoded from the keyframe
  before it (FFmpeg's default interval is 250 frames = 10 s at 25 fps);
  ``--gop 16`` bounds that lead to 15 frames.

The folder layout is mirrored (``SRC/a/b.mp4`` -> ``DST/a/b.mp4``), so the
same annotation file works with ``data_prefix.video=DST``. Existing outputs
are skipped (re-run to resume); each file is written under a temporary name
and renamed, so an interrupted run leaves no truncated video. Outputs are
H.264 in an mp4 container whatever the input's extension. A video that
cannot be read is listed in ``DST/resize_failures.txt`` and skipped; the
exit status is 1 when any failed.

Example::

    python tools/data/resize_videos.py data/webvid/videos \\
        data/webvid/videos_256 --short-side 256 --gop 16 --workers 16
"""
import argparse
import multiprocessing
import os
import os.path as osp
import sys
import time
from typing import List, Optional, Tuple

VIDEO_EXTS = ('.mp4', '.avi', '.mkv', '.webm', '.mov', '.m4v')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('src', help='folder with the original videos')
    p.add_argument('dst', help='output folder (layout mirrored)')
    p.add_argument('--short-side', type=int, default=256,
                   help='shorter side after resizing; 0 keeps the size')
    p.add_argument('--gop', type=int, default=16,
                   help='keyframe interval in frames')
    p.add_argument('--crf', type=int, default=23, help='x264 quality')
    p.add_argument('--preset', default='veryfast', help='x264 preset')
    p.add_argument('--workers', type=int, default=max(1, os.cpu_count()
                                                      or 1))
    p.add_argument('--overwrite', action='store_true',
                   help='re-encode files that already exist in DST')
    return p.parse_args(argv)


def find_videos(src: str) -> List[str]:
    """Video paths under ``src``, relative to it, sorted."""
    found = []
    for root, _, files in os.walk(src):
        for name in files:
            if name.lower().endswith(VIDEO_EXTS):
                found.append(osp.relpath(osp.join(root, name), src))
    return sorted(found)


def _convert(task: Tuple[str, str, dict]) -> Tuple[str, Optional[str]]:
    src, dst, options = task
    from simvtp.utils.video_encoding import reencode
    try:
        reencode(src, dst, **options)
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop
        return src, f'{type(exc).__name__}: {exc}'.splitlines()[0]
    return src, None


def main(argv=None) -> int:
    args = parse_args(argv)
    from simvtp.utils.video_encoding import import_av
    import_av()  # fail now with the install hint, not in every worker
    if not osp.isdir(args.src):
        sys.exit(f'{args.src}: not a folder')
    videos = find_videos(args.src)
    options = dict(short_side=args.short_side or None, gop=args.gop,
                   crf=args.crf, preset=args.preset)
    tasks = []
    for rel in videos:
        out = osp.join(args.dst, rel)  # same name: annotations still match
        if args.overwrite or not osp.exists(out):
            tasks.append((osp.join(args.src, rel), out, options))
    print(f'{args.src}: {len(videos)} videos, {len(videos) - len(tasks)} '
          f'already done, converting {len(tasks)} with {args.workers} '
          f'worker(s)')
    return 1 if convert_all(tasks, args.workers, args.dst) else 0


def convert_all(tasks: List[Tuple[str, str, dict]], workers: int,
                dst: str) -> List[Tuple[str, str]]:
    """Re-encode ``(src, dst, options)`` tasks in a pool; lists failures in
    ``dst/resize_failures.txt`` (removed when none) and returns them."""
    failures = []
    start = time.perf_counter()
    if workers > 1 and len(tasks) > 1:
        with multiprocessing.get_context('spawn').Pool(workers) as pool:
            results = pool.imap_unordered(_convert, tasks, chunksize=4)
            failures = [(s, e) for s, e in results if e]
    else:
        failures = [(s, e) for s, e in map(_convert, tasks) if e]
    elapsed = time.perf_counter() - start
    os.makedirs(dst, exist_ok=True)
    report = osp.join(dst, 'resize_failures.txt')
    if failures:
        with open(report, 'w', encoding='utf-8') as f:
            for src, error in sorted(failures):
                f.write(f'{src}\t{error}\n')
        print(f'{len(failures)} video(s) could not be converted; listed in '
              f'{report}')
    elif osp.exists(report):
        os.remove(report)
    print(f'converted {len(tasks) - len(failures)} in {elapsed:.1f} s')
    return failures


if __name__ == '__main__':
    sys.exit(main())
