"""Scan an annotation file's videos; write a cleaned copy and a report.

    python tools/data/check_videos.py ANN DATA_ROOT [--out-dir D] [--workers W]
        [--format webvid|msrvtt|auto] [--min-frames F]

Every row is read through the project's own readers (``WebVidDataset`` /
``MSRVTTDataset`` without a pipeline), so the paths checked are exactly the
paths training opens. Each distinct video is opened with decord in a pool of
worker processes: it must exist, be non-empty and readable, report at least
one frame (``--min-frames`` to ask for more) and decode its first, middle and
last frame. A row is bad when its video is bad or its caption is empty.

Outputs, in ``--out-dir`` (default: the annotation's folder):

* ``{name}.clean{ext}``: the annotation in the same format as the input (a
  CSV keeps its header and columns, a JSON keeps its shape) with only the
  good rows;
* ``{name}.report.jsonl``: one JSON object per bad row (per video-caption
  pair): ``row`` (CSV line number, or JSON index/key, with ``[i]`` for the
  i-th caption of a list), ``video``, ``caption``, ``reason``.

A summary (rows, videos, bad rows by reason) is printed at the end. Pass the
cleaned file as ``ann_file`` to train without replacements.
"""
import argparse
import csv
import json
import multiprocessing
import os
import os.path as osp
import sys
from collections import Counter
from typing import Dict, List, Optional, Tuple

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))

import simvtp  # noqa: E402,F401  (stack fixes, registries)
from simvtp.datasets import MSRVTTDataset, WebVidDataset  # noqa: E402

EMPTY_CAPTION = 'empty or whitespace-only caption'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Check the videos of an annotation file; write a cleaned '
        'annotation file and a report of the bad rows')
    parser.add_argument('ann', help='annotation file (WebVid CSV/JSON or an '
                        'MSR-VTT format)')
    parser.add_argument('data_root', help='folder the video paths are '
                        'relative to (data_prefix.video)')
    parser.add_argument('--out-dir', help='where to write the cleaned file '
                        'and the report (default: the annotation\'s folder)')
    parser.add_argument('--workers', type=int,
                        default=min(8, os.cpu_count() or 1))
    parser.add_argument('--format', choices=['webvid', 'msrvtt', 'auto'],
                        default='auto')
    parser.add_argument('--min-frames', type=int, default=1,
                        help='videos with fewer frames are bad (default 1; '
                        'shorter clips than the sampled span are looped by '
                        'SampleFrames, so only raise this on purpose)')
    parser.add_argument('--video-template', default='{page_dir}/{videoid}.mp4',
                        help='WebVid CSV: row -> video path')
    parser.add_argument('--video-ext', default='.mp4',
                        help='MSR-VTT formats that name videos by id')
    parser.add_argument('--verbose', action='store_true',
                        help='keep FFmpeg messages of the workers')
    return parser.parse_args(argv)


# --------------------------------------------------------------------------
# checking one video (in a worker process)
# --------------------------------------------------------------------------
def _quiet_worker() -> None:
    """FFmpeg prints to fd 2 for every broken file; keep the bar readable."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)


def check_video(args: Tuple[str, int]) -> Tuple[str, Optional[str], int]:
    """``(path, reason or None, frame count)``."""
    path, min_frames = args
    try:
        size = os.path.getsize(path)
    except FileNotFoundError:
        return path, 'missing file', 0
    except OSError as e:
        return path, f'cannot stat: {e.strerror}', 0
    if osp.isdir(path):
        return path, 'is a directory, not a video file', 0
    if size == 0:
        return path, 'empty file (0 bytes)', 0
    if not os.access(path, os.R_OK):
        return path, 'no read permission', 0
    try:
        import decord
        reader = decord.VideoReader(path, num_threads=1)
        length = len(reader)
    except Exception as e:
        return path, f'unreadable video ({_short(e)})', 0
    if length < 1:
        return path, 'no frames', 0
    for index in sorted({0, length // 2, length - 1}):
        try:
            reader.get_batch([index]).asnumpy()
        except Exception as e:
            return path, (f'frame {index} of {length} cannot be decoded '
                          f'({_short(e)})'), length
    if length < min_frames:
        return path, f'too short: {length} frames < --min-frames ' \
            f'{min_frames}', length
    return path, None, length


def _short(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    text = ' '.join(lines[0].split())[:160] if lines else ''
    return f'{type(exc).__name__}: {text}'


# --------------------------------------------------------------------------
# formats
# --------------------------------------------------------------------------
def detect_format(ann: str) -> str:
    """'webvid' or 'msrvtt' from the file's extension and content."""
    if ann.endswith('.csv'):
        with open(ann, newline='', encoding='utf-8') as f:
            header = next(csv.reader(f), []) or []
        header = [h.strip() for h in header]
        return 'msrvtt' if {'video_id', 'sentence'} <= set(header) \
            else 'webvid'
    with open(ann, encoding='utf-8') as f:
        content = json.load(f)
    if isinstance(content, dict) and 'sentences' not in content:
        return 'webvid'  # {video_path: caption}; both readers accept it
    return 'msrvtt'


def build_dataset(fmt: str, ann: str, data_root: str, args):
    kwargs = dict(ann_file=ann, data_prefix=dict(video=data_root),
                  pipeline=[])
    if fmt == 'webvid':
        return WebVidDataset(video_template=args.video_template, **kwargs)
    return MSRVTTDataset(video_ext=args.video_ext, **kwargs)


def _bad_reason(path: str, caption, bad_videos: Dict[str, str]):
    if path in bad_videos:
        return bad_videos[path]
    if not isinstance(caption, str) or not caption.strip():
        return EMPTY_CAPTION
    return None


def clean_csv(ann, dataset, infos, bad_videos, out_path, fmt) -> List[dict]:
    """Keep the header and the good rows; one dataset pair per CSV row."""
    bad_rows = []
    with open(ann, newline='', encoding='utf-8') as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = list(reader)
    names = [h.strip() for h in header]
    if fmt == 'webvid':
        # infos: the dataset's items, one per row
        if len(infos) != len(rows):
            raise RuntimeError(f'{ann}: {len(rows)} rows but the reader '
                               f'returned {len(infos)} pairs')
        pairs = [(info['filename'], info['text']) for info in infos]
    else:
        col = {n: i for i, n in enumerate(names)}
        pairs = [(dataset._video_path(row[col['video_id']] +
                                      dataset.video_ext),
                  row[col['sentence']]) for row in rows]
    kept = []
    for line, (row, (path, caption)) in enumerate(zip(rows, pairs), start=2):
        reason = _bad_reason(path, caption, bad_videos)
        if reason is None:
            kept.append(row)
        else:
            bad_rows.append(dict(row=line, video=path, caption=caption,
                                 reason=reason))
    with open(out_path, 'w', newline='', encoding='utf-8') as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(kept)
    return bad_rows


def _clean_captions(value, path, bad_videos, where, bad_rows):
    """A caption field (str or list) minus bad entries; None drops it all."""
    if path in bad_videos:  # one report line per caption (= pair)
        if isinstance(value, str):
            bad_rows.append(dict(row=where, video=path, caption=value,
                                 reason=bad_videos[path]))
        else:
            bad_rows.extend(dict(row=f'{where}[{i}]', video=path,
                                 caption=caption, reason=bad_videos[path])
                            for i, caption in enumerate(value))
        return None
    if isinstance(value, str):
        if value.strip():
            return value
        bad_rows.append(dict(row=where, video=path, caption=value,
                             reason=EMPTY_CAPTION))
        return None
    kept = []
    for i, caption in enumerate(value):
        if isinstance(caption, str) and caption.strip():
            kept.append(caption)
        else:
            bad_rows.append(dict(row=f'{where}[{i}]', video=path,
                                 caption=caption, reason=EMPTY_CAPTION))
    return kept or None


def clean_json(ann, dataset, bad_videos, out_path) -> List[dict]:
    """Drop bad entries, keep the JSON's shape."""
    with open(ann, encoding='utf-8') as f:
        content = json.load(f)
    bad_rows: List[dict] = []
    video_path = dataset._video_path
    if isinstance(content, list):  # [{"video", "caption"}]
        cleaned = []
        for i, item in enumerate(content):
            value = _clean_captions(item['caption'],
                                    video_path(item['video']), bad_videos,
                                    i, bad_rows)
            if value is not None:
                cleaned.append(dict(item, caption=value))
    elif 'sentences' in content:  # original MSR-VTT / CLIP4Clip
        ext = dataset.video_ext
        sentences = []
        for i, s in enumerate(content['sentences']):
            value = _clean_captions(s['caption'],
                                    video_path(s['video_id'] + ext),
                                    bad_videos, f'sentences[{i}]', bad_rows)
            if value is not None:
                sentences.append(s)
        cleaned = dict(content, sentences=sentences)
        if isinstance(content.get('videos'), list):
            cleaned['videos'] = [
                v for v in content['videos'] if not isinstance(v, dict)
                or video_path(str(v.get('video_id')) + ext) not in bad_videos]
    else:  # {video_path: caption | [captions]}
        cleaned = {}
        for key, value in content.items():
            value = _clean_captions(value, video_path(key), bad_videos, key,
                                    bad_rows)
            if value is not None:
                cleaned[key] = value
    with open(out_path, 'w', encoding='utf-8') as f:
        json.dump(cleaned, f, ensure_ascii=False,
                  indent=None if _compact(ann) else 1)
    return bad_rows


def _compact(ann: str) -> bool:
    """Whether the input JSON is on one line (then so is the output)."""
    with open(ann, encoding='utf-8') as f:
        return f.read(1 << 16).count('\n') <= 1


# --------------------------------------------------------------------------
def main(argv=None) -> dict:
    args = parse_args(argv)
    from tqdm import tqdm

    fmt = detect_format(args.ann) if args.format == 'auto' else args.format
    dataset = build_dataset(fmt, args.ann, args.data_root, args)
    infos = dataset.load_data_list()
    videos = list(dict.fromkeys(info['filename'] for info in infos))
    print(f'{args.ann}: {fmt} format, {len(infos)} rows, {len(videos)} '
          f'videos; checking with {args.workers} worker(s)')

    bad_videos: Dict[str, str] = {}
    tasks = [(v, args.min_frames) for v in videos]
    chunk = max(1, min(64, len(tasks) // (max(args.workers, 1) * 8)))
    bar = tqdm(total=len(tasks), unit='video', dynamic_ncols=True)
    if args.workers > 1:
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context(
            'fork' if 'fork' in methods else None)
        with ctx.Pool(args.workers, initializer=None if args.verbose
                      else _quiet_worker) as pool:
            for path, reason, _ in pool.imap_unordered(check_video, tasks,
                                                       chunksize=chunk):
                if reason:
                    bad_videos[path] = reason
                bar.update()
    else:
        for task in tasks:
            path, reason, _ = check_video(task)
            if reason:
                bad_videos[path] = reason
            bar.update()
    bar.close()

    out_dir = args.out_dir or osp.dirname(osp.abspath(args.ann))
    os.makedirs(out_dir, exist_ok=True)
    stem, ext = osp.splitext(osp.basename(args.ann))
    clean_path = osp.join(out_dir, f'{stem}.clean{ext}')
    report_path = osp.join(out_dir, f'{stem}.report.jsonl')
    if ext == '.csv':
        bad_rows = clean_csv(args.ann, dataset, infos, bad_videos, clean_path,
                             fmt)
    else:
        bad_rows = clean_json(args.ann, dataset, bad_videos, clean_path)
    with open(report_path, 'w', encoding='utf-8') as f:
        for row in bad_rows:
            f.write(json.dumps(row, ensure_ascii=False) + '\n')

    reasons = Counter(r['reason'].split(' (', 1)[0] for r in bad_rows)
    summary = dict(format=fmt, rows=len(infos), videos=len(videos),
                   bad_videos=len(bad_videos), bad_rows=len(bad_rows),
                   reasons=dict(reasons), clean=clean_path,
                   report=report_path)
    share = len(bad_rows) / len(infos) if infos else 0.0
    print(f'{len(bad_rows)} of {len(infos)} rows are bad ({share:.1%}); '
          f'{len(bad_videos)} of {len(videos)} videos cannot be used')
    for reason, count in reasons.most_common():
        print(f'  {count:8d}  {reason}')
    print(f'cleaned annotation: {clean_path}\nreport: {report_path}')
    return summary


if __name__ == '__main__':
    main()
