"""MSR-VTT video-caption annotations in the formats researchers have on disk.

Accepted formats (detected from the content):

* mmaction2's retrieval JSON: a list of ``{"video": "video7010.mp4",
  "caption": str | [str]}`` (what ``MSRVTTRetrieval`` reads);
* the authors' release split files (9k train / 1k-A test):
  ``{video_path: caption}``;
* the original MSR-VTT ``train_val_videodatainfo.json`` /
  ``test_videodatainfo.json`` and CLIP4Clip's ``MSRVTT_data.json``:
  ``{"videos": [{"video_id", "split", ...}], "sentences": [{"video_id",
  "caption"}]}``; filter with ``split`` and/or ``video_list`` (a text file
  of video ids, e.g. the JSFusion ``train_list_jsfusion.txt`` for 9k);
* CLIP4Clip's ``MSRVTT_JSFUSION_test.csv`` (1k-A): columns
  ``key,vid_key,video_id,sentence``.

Video files are ``{data_prefix.video}/{video_id}{video_ext}`` for the formats
that name videos by id.
"""
import csv
import json
from typing import Iterable, Optional, Tuple

from ..registry import DATASETS
from .video_text import (AnnotationError, VideoTextPairDataset, captions_of,
                         check_caption, check_video)
from .webvid import read_video_caption_json


@DATASETS.register_module()
class MSRVTTDataset(VideoTextPairDataset):
    """MSR-VTT (or any dataset in the same formats) video-caption pairs.

    Args:
        split: for the original ``videos``/``sentences`` JSON, keep videos
            whose ``split`` field equals this (``'train'``, ``'validate'``,
            ``'test'``); None keeps all.
        video_list: optional text file with one video id per line; only
            those videos are kept (JSFusion 9k / 1k-A lists).
        video_ext: extension appended to video ids.
        **kwargs: see :class:`VideoTextPairDataset`.
    """

    def __init__(self, *args, split: Optional[str] = None,
                 video_list: Optional[str] = None, video_ext: str = '.mp4',
                 **kwargs) -> None:
        self.split = split
        self.video_list = video_list
        self.video_ext = video_ext
        super().__init__(*args, **kwargs)

    def read_pairs(self) -> Iterable[Tuple[str, str]]:
        keep = self._read_video_list()
        if self.ann_file.endswith('.csv'):
            pairs = self._read_jsfusion_csv()
        else:
            with open(self.ann_file, encoding='utf-8') as f:
                try:
                    content = json.load(f)
                except json.JSONDecodeError as e:
                    raise AnnotationError(
                        f'{self.ann_file}: invalid JSON: {e}') from None
            if isinstance(content, list):
                pairs = self._read_list(content)
            elif isinstance(content, dict) and 'sentences' in content:
                pairs = self._read_original(content)
            elif isinstance(content, dict):
                pairs = read_video_caption_json(self.ann_file)
            else:
                raise AnnotationError(
                    f'{self.ann_file}: expected a JSON list of '
                    '{"video", "caption"}, a {video_path: caption} object or '
                    'the MSR-VTT {"videos", "sentences"} object')
        for video, caption in pairs:
            if keep is None or _video_id(video) in keep:
                yield video, caption

    def _read_video_list(self):
        if self.video_list is None:
            return None
        with open(self.video_list, encoding='utf-8') as f:
            return {line.strip() for line in f if line.strip()}

    def _read_list(self, content) -> Iterable[Tuple[str, str]]:
        for i, item in enumerate(content):
            where = f'item {i}'
            if not isinstance(item, dict) or 'video' not in item \
                    or 'caption' not in item:
                raise AnnotationError(
                    f'{self.ann_file}: {where}: expected an object with '
                    f'"video" and "caption", got {item!r}')
            video = check_video(item['video'], self.ann_file,
                                f'{where} "video"')
            for caption in captions_of(item['caption'], self.ann_file,
                                       f'{where} "caption"'):
                yield video, caption

    def _read_original(self, content) -> Iterable[Tuple[str, str]]:
        wanted = None
        if self.split is not None:
            videos = content.get('videos')
            if not isinstance(videos, list):
                raise AnnotationError(
                    f'{self.ann_file}: split={self.split!r} needs a "videos" '
                    'list with "video_id" and "split" fields')
            wanted = set()
            for i, v in enumerate(videos):
                if not isinstance(v, dict) or 'video_id' not in v \
                        or 'split' not in v:
                    raise AnnotationError(
                        f'{self.ann_file}: videos[{i}]: expected "video_id" '
                        f'and "split", got {v!r}')
                if v['split'] == self.split:
                    wanted.add(check_video(v['video_id'], self.ann_file,
                                           f'videos[{i}] "video_id"'))
        for i, s in enumerate(content['sentences']):
            if not isinstance(s, dict) or 'video_id' not in s \
                    or 'caption' not in s:
                raise AnnotationError(
                    f'{self.ann_file}: sentences[{i}]: expected "video_id" '
                    f'and "caption", got {s!r}')
            video_id = check_video(s['video_id'], self.ann_file,
                                   f'sentences[{i}] "video_id"')
            if wanted is None or video_id in wanted:
                yield (video_id + self.video_ext,
                       check_caption(s['caption'], self.ann_file,
                                     f'sentences[{i}]'))

    def _read_jsfusion_csv(self) -> Iterable[Tuple[str, str]]:
        with open(self.ann_file, newline='', encoding='utf-8') as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or not {'video_id', 'sentence'} <= set(
                    reader.fieldnames):
                raise AnnotationError(
                    f'{self.ann_file}: expected columns video_id and sentence '
                    f'(MSRVTT_JSFUSION_test.csv), got {reader.fieldnames}')
            for line, row in enumerate(reader, start=2):
                if not row.get('video_id') or row.get('sentence') is None:
                    raise AnnotationError(
                        f'{self.ann_file}: row {line}: empty video_id or '
                        f'sentence: {row!r}')
                yield row['video_id'] + self.video_ext, row['sentence'].strip()


def _video_id(video: str) -> str:
    """``'a/b/video7010.mp4'`` -> ``'video7010'``."""
    name = video.replace('\\', '/').rsplit('/', 1)[-1]
    return name.rsplit('.', 1)[0] if '.' in name else name
