"""Prepare MSR-VTT for retrieval: videos re-encoded at their own frame rate,
the standard splits as annotation files.

    python tools/data/prepare_msrvtt.py SRC OUT [--short-side 256] [--gop 16]
        [--workers 8]

``SRC`` is the folder holding the MSR-VTT download in any of its common
layouts (searched recursively): the videos (``MSRVTT/videos/all/video*.mp4``
of the Frozen-in-Time zip, or ``TrainValVideo/`` + ``TestVideo/`` of the
original release) and whichever annotation files are there: CLIP4Clip's
``MSRVTT_data.json``, ``MSRVTT_train.9k.csv``, ``MSRVTT_train.7k.csv``,
``MSRVTT_JSFUSION_test.csv``, or the original
``train_val_videodatainfo.json`` / ``test_videodatainfo.json``.

Writes:

* ``OUT/videos/{video_id}.mp4``: H.264 at the source's frame rate (mmaction2's
  ``compress_msrvtt.sh`` keeps 2 fps, too few for 16 frames at interval 4),
  shorter side ``--short-side``, a keyframe every ``--gop`` frames
  (``tools/data/resize_videos.py``'s step; decoding is ~2.3x faster than on
  the originals). Existing outputs are skipped; failures are listed in
  ``OUT/videos/resize_failures.txt``.
* ``OUT/annotations/`` in mmaction2's list format ``[{"video", "caption":
  [...]}]`` (``MSRVTTDataset`` reads it; ``convert_annotations.py``
  converts it): ``train_9k.json`` / ``train_7k.json`` (every caption of the
  JSFusion 9k / 7k training videos), ``test_1k.json`` (1k-A: one caption
  per video) and ``test_full.json`` (the 2,990 test videos, 20 captions
  each), for the files that are present.
"""
import argparse
import csv
import os
import os.path as osp
import sys
from typing import Dict, List, Optional

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import convert_annotations  # noqa: E402
import resize_videos  # noqa: E402

ANNOTATIONS = ('MSRVTT_data.json', 'MSRVTT_train.9k.csv',
               'MSRVTT_train.7k.csv', 'MSRVTT_JSFUSION_test.csv',
               'train_val_videodatainfo.json', 'test_videodatainfo.json')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('src', help='the MSR-VTT download (any layout)')
    p.add_argument('out', help='output folder (videos/, annotations/)')
    p.add_argument('--short-side', type=int, default=256,
                   help='shorter side after re-encoding; 0 keeps the size')
    p.add_argument('--gop', type=int, default=16,
                   help='keyframe interval in frames')
    p.add_argument('--crf', type=int, default=23)
    p.add_argument('--preset', default='veryfast')
    p.add_argument('--workers', type=int, default=os.cpu_count() or 1)
    p.add_argument('--skip-videos', action='store_true',
                   help='write the annotations only')
    return p.parse_args(argv)


def find_files(src: str) -> Dict[str, str]:
    """``{file name: path}`` of the annotation files and videos under
    ``src`` (the first found of each name)."""
    found: Dict[str, str] = {}
    for root, _, names in sorted(os.walk(src)):
        for name in sorted(names):
            if name in ANNOTATIONS or name.lower().endswith(
                    resize_videos.VIDEO_EXTS):
                found.setdefault(name, osp.join(root, name))
    return found


def write_split(src: str, dst: str, fmt: str, split: Optional[str] = None,
                video_list: Optional[str] = None) -> int:
    """Read ``src`` with the simvtp readers, write mmaction2's list."""
    args = argparse.Namespace(from_format=fmt, video_template='',
                              split=split, video_list=video_list,
                              video_ext='.mp4')
    result = convert_annotations.convert(src, dst, 'mmaction-json', args)
    print(f'{dst}: {result["videos"]} videos, {result["captions"]} '
          'captions')
    return result['videos']


def write_id_list(csv_path: str, dst: str) -> None:
    """The ``video_id`` column of a JSFusion split CSV, one id a line."""
    with open(csv_path, newline='', encoding='utf-8') as f:
        reader = csv.DictReader(f)
        if 'video_id' not in (reader.fieldnames or []):
            raise ValueError(f'{csv_path}: expected a video_id column, got '
                             f'{reader.fieldnames}')
        ids = [row['video_id'].strip() for row in reader]
    with open(dst, 'w', encoding='utf-8') as f:
        f.write('\n'.join(i for i in ids if i) + '\n')


def write_annotations(files: Dict[str, str], out: str) -> List[str]:
    """The standard splits from whichever files are present."""
    os.makedirs(out, exist_ok=True)
    written = []
    # all captions with splits: CLIP4Clip's merge or the original files
    full = files.get('MSRVTT_data.json')
    for name, list_name in (('train_9k.json', 'MSRVTT_train.9k.csv'),
                            ('train_7k.json', 'MSRVTT_train.7k.csv')):
        source = full or files.get('train_val_videodatainfo.json')
        if source and list_name in files:
            ids = osp.join(out, f'.{name[:-5]}_ids.txt')
            write_id_list(files[list_name], ids)
            write_split(source, osp.join(out, name), 'msrvtt-json',
                        video_list=ids)
            os.remove(ids)
            written.append(name)
    if 'MSRVTT_JSFUSION_test.csv' in files:
        write_split(files['MSRVTT_JSFUSION_test.csv'],
                    osp.join(out, 'test_1k.json'), 'clip4clip-csv')
        written.append('test_1k.json')
    source = full or files.get('test_videodatainfo.json')
    if source:
        write_split(source, osp.join(out, 'test_full.json'), 'msrvtt-json',
                    split='test')
        written.append('test_full.json')
    return written


def main(argv=None) -> dict:
    args = parse_args(argv)
    files = find_files(args.src)
    videos = {name: path for name, path in files.items()
              if name not in ANNOTATIONS}
    failures = []
    if not args.skip_videos:
        from simvtp.utils.video_encoding import import_av
        import_av()
        options = dict(short_side=args.short_side or None, gop=args.gop,
                       crf=args.crf, preset=args.preset)
        out_videos = osp.join(args.out, 'videos')
        tasks = []
        for name, path in sorted(videos.items()):
            # one flat folder, .mp4 whatever the source container
            out = osp.join(out_videos, osp.splitext(name)[0] + '.mp4')
            if not osp.exists(out):
                tasks.append((path, out, options))
        print(f'{args.src}: {len(videos)} videos, {len(videos) - len(tasks)}'
              f' already done, re-encoding {len(tasks)} at their frame rate'
              f' (short side {args.short_side}, keyframe every {args.gop})')
        failures = resize_videos.convert_all(tasks, args.workers, out_videos)
    written = write_annotations(files, osp.join(args.out, 'annotations'))
    if not written:
        print(f'{args.src}: no annotation file found (looked for '
              f'{", ".join(ANNOTATIONS)})')
    return dict(videos=len(videos), failed=len(failures),
                annotations=written)


if __name__ == '__main__':
    result = main()
    sys.exit(1 if result['failed'] else 0)
