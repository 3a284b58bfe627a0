"""Convert video-caption annotations between the formats simvtp reads.

    python tools/data/convert_annotations.py SRC DST --to FORMAT
        [--from auto|FORMAT] [--split test] [--video-list LIST]

Formats (what reads them: ``WebVidDataset`` / ``MSRVTTDataset``):

=================  =========================================================
``webvid-csv``     WebVid's ``videoid,contentUrl,duration,page_dir,name``;
                   video ``{page_dir}/{videoid}.mp4`` (``--video-template``)
``video-json``     the SimVTP authors' ``{video_path: caption | [captions]}``
``msrvtt-json``    MSR-VTT's original ``{"videos": [{"video_id",
                   "split"}], "sentences": [{"video_id", "caption"}]}``
                   (also CLIP4Clip's ``MSRVTT_data.json``)
``mmaction-json``  mmaction2's retrieval list ``[{"video", "caption":
                   [captions]}]``, one item per video
``umt-json``       the VindLU / UMT list ``[{"video", "caption": str}]``,
                   one item per (video, caption) pair
``clip4clip-csv``  CLIP4Clip's ``key,vid_key,video_id,sentence``
                   (``MSRVTT_JSFUSION_test.csv``)
=================  =========================================================

Reading goes through the datasets' own readers, so a file converts exactly
as training would read it, and a malformed input raises the readers' error
naming the file and the row/key. Formats that name videos by id
(``msrvtt-json``, ``clip4clip-csv``) need paths ``{id}{--video-ext}`` without
folders; ``webvid-csv`` needs ``folder/name.mp4``; a video that does not fit
is an error naming the input file and the video. The output is written to a
temporary file and renamed.
"""
import argparse
import csv
import json
import os
import os.path as osp
import re
import sys
from typing import Iterator, List, Tuple

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))

FORMATS = ('webvid-csv', 'video-json', 'msrvtt-json', 'mmaction-json',
           'umt-json', 'clip4clip-csv')
WEBVID_HEADER = ['videoid', 'contentUrl', 'duration', 'page_dir', 'name']
CLIP4CLIP_HEADER = ['key', 'vid_key', 'video_id', 'sentence']


class ConversionError(ValueError):
    """A video that the target format cannot express; names the input."""


def detect_format(path: str) -> str:
    """The format of ``path`` from its extension and header/shape."""
    if path.endswith('.csv'):
        with open(path, newline='', encoding='utf-8') as f:
            header = [h.strip() for h in next(csv.reader(f), [])]
        if {'video_id', 'sentence'} <= set(header):
            return 'clip4clip-csv'
        return 'webvid-csv'
    with open(path, encoding='utf-8') as f:
        try:
            content = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f'{path}: invalid JSON: {e}') from None
    if isinstance(content, list):
        grouped = any(isinstance(item, dict) and isinstance(
            item.get('caption'), list) for item in content[:100])
        return 'mmaction-json' if grouped else 'umt-json'
    if isinstance(content, dict) and 'sentences' in content:
        return 'msrvtt-json'
    return 'video-json'


def open_annotation(path: str, fmt: str = 'auto', data_root: str = '',
                    per_video: bool = True, video_template: str =
                    '{page_dir}/{videoid}.mp4', split=None, video_list=None,
                    video_ext: str = '.mp4'):
    """The simvtp dataset (no pipeline) that reads ``path``; items are
    videos with every caption when ``per_video``."""
    import simvtp  # noqa: F401  (stack fixes, registries)
    from simvtp.datasets import MSRVTTDataset, WebVidDataset
    fmt = detect_format(path) if fmt == 'auto' else fmt
    kwargs = dict(ann_file=path, pipeline=[], per_video=per_video,
                  data_prefix=dict(video=data_root))
    if fmt in ('webvid-csv', 'video-json'):
        return WebVidDataset(video_template=video_template, **kwargs)
    return MSRVTTDataset(split=split, video_list=video_list,
                         video_ext=video_ext, **kwargs)


def videos_of(dataset) -> Iterator[Tuple[str, List[str]]]:
    """``(video path as written, captions)`` in file order."""
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        yield info['filename'], list(info['text'])


# --------------------------------------------------------------------------
# writers: (src, videos, out file, args) -> items written
# --------------------------------------------------------------------------
def _video_id(src: str, index: int, video: str, ext: str) -> str:
    if '/' in video.replace('\\', '/') or not video.endswith(ext):
        raise ConversionError(
            f'{src}: video {index} {video!r}: this format names videos by '
            f'id; expected a file name ending in {ext!r} without folders '
            '(--video-ext sets the extension)')
    return video[:-len(ext)] if ext else video


def write_webvid_csv(src, videos, f, args) -> int:
    writer = csv.writer(f)
    writer.writerow(WEBVID_HEADER)
    rows = 0
    for i, (video, captions) in enumerate(videos):
        folder, name = osp.split(video.replace('\\', '/'))
        if not folder or not name.endswith('.mp4'):
            raise ConversionError(
                f'{src}: video {i} {video!r}: WebVid rows name videos as '
                '{page_dir}/{videoid}.mp4; expected a folder and a .mp4 '
                'file name')
        for caption in captions:
            writer.writerow([name[:-4], '', '', folder, caption])
            rows += 1
    return rows


def write_video_json(src, videos, f, args) -> int:
    content = {v: (c[0] if len(c) == 1 else c) for v, c in videos}
    json.dump(content, f, ensure_ascii=False)
    return len(content)


def write_msrvtt_json(src, videos, f, args) -> int:
    out_videos, sentences = [], []
    for i, (video, captions) in enumerate(videos):
        vid = _video_id(src, i, video, args.video_ext)
        out_videos.append(dict(video_id=vid, split=args.out_split, id=i))
        for caption in captions:
            sentences.append(dict(video_id=vid, caption=caption,
                                  sen_id=len(sentences)))
    json.dump(dict(videos=out_videos, sentences=sentences), f,
              ensure_ascii=False)
    return len(sentences)


def write_mmaction_json(src, videos, f, args) -> int:
    items = [dict(video=v, caption=c) for v, c in videos]
    json.dump(items, f, ensure_ascii=False)
    return len(items)


def write_umt_json(src, videos, f, args) -> int:
    items = [dict(video=v, caption=c) for v, cs in videos for c in cs]
    json.dump(items, f, ensure_ascii=False)
    return len(items)


def write_clip4clip_csv(src, videos, f, args) -> int:
    writer = csv.writer(f)
    writer.writerow(CLIP4CLIP_HEADER)
    rows = 0
    for i, (video, captions) in enumerate(videos):
        vid = _video_id(src, i, video, args.video_ext)
        match = re.fullmatch(r'video(\d+)', vid)
        vid_key = f'msr{match.group(1)}' if match else vid
        for caption in captions:
            writer.writerow([f'ret{rows}', vid_key, vid, caption])
            rows += 1
    return rows


WRITERS = {'webvid-csv': write_webvid_csv, 'video-json': write_video_json,
           'msrvtt-json': write_msrvtt_json,
           'mmaction-json': write_mmaction_json,
           'umt-json': write_umt_json, 'clip4clip-csv': write_clip4clip_csv}


def convert(src: str, dst: str, to: str, args) -> dict:
    """Read ``src`` with the simvtp readers, write ``dst`` in ``to``."""
    fmt = detect_format(src) if args.from_format == 'auto' \
        else args.from_format
    dataset = open_annotation(src, fmt, video_template=args.video_template,
                              split=args.split, video_list=args.video_list,
                              video_ext=args.video_ext)
    tmp = f'{dst}.tmp.{os.getpid()}'
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    try:
        with open(tmp, 'w', newline='', encoding='utf-8') as f:
            items = WRITERS[to](src, videos_of(dataset), f, args)
        os.replace(tmp, dst)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    return dict(source_format=fmt, format=to, videos=dataset.num_videos,
                captions=dataset.num_texts, items=items)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('src', help='input annotation file')
    p.add_argument('dst', help='output annotation file')
    p.add_argument('--to', required=True, choices=FORMATS)
    p.add_argument('--from', dest='from_format', default='auto',
                   choices=('auto',) + FORMATS)
    p.add_argument('--split', help='msrvtt-json input: keep this split '
                   '(train / validate / test)')
    p.add_argument('--video-list', help='keep only the video ids listed '
                   '(one a line, e.g. JSFusion 9k / 1k-A lists)')
    p.add_argument('--video-ext', default='.mp4',
                   help='extension of videos named by id')
    p.add_argument('--out-split', default='train',
                   help='msrvtt-json output: the "split" of every video')
    p.add_argument('--video-template', default='{page_dir}/{videoid}.mp4',
                   help='webvid-csv input: row -> video path')
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    result = convert(args.src, args.dst, args.to, args)
    print(f'{args.src} ({result["source_format"]}): {result["videos"]} '
          f'videos, {result["captions"]} captions -> {args.dst} '
          f'({args.to}, {result["items"]} items)')
    return result


if __name__ == '__main__':
    main()
