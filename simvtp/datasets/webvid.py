"""WebVid-2M/10M video-caption pairs, as distributed and as the authors' JSON.

Formats accepted (chosen by the file extension):

* ``.csv`` — the official ``results_2M_train.csv`` / ``results_2M_val.csv``
  with columns ``videoid,contentUrl,duration,page_dir,name``; videos live at
  ``{data_prefix.video}/{page_dir}/{videoid}.mp4`` (the layout the WebVid
  download script writes). ``video_template`` changes that layout.
* ``.json`` — the authors' release format ``{video_path: caption}``
  (``video_path`` absolute or relative to ``data_prefix.video``).
"""
import csv
import json
from typing import Iterable, Tuple

from ..registry import DATASETS
from .video_text import AnnotationError, VideoTextPairDataset, captions_of

WEBVID_COLUMNS = ('videoid', 'page_dir', 'name')


@DATASETS.register_module()
class WebVidDataset(VideoTextPairDataset):
    """WebVid video-caption pairs from the official CSV or the authors' JSON.

    Args:
        video_template: how a CSV row maps to a video path relative to
            ``data_prefix.video``; fields are the CSV columns.
        **kwargs: see :class:`VideoTextPairDataset`.
    """

    def __init__(self, *args,
                 video_template: str = '{page_dir}/{videoid}.mp4',
                 **kwargs) -> None:
        self.video_template = video_template
        super().__init__(*args, **kwargs)

    def read_pairs(self) -> Iterable[Tuple[str, str]]:
        if self.ann_file.endswith('.json'):
            yield from read_video_caption_json(self.ann_file)
        else:
            yield from self._read_csv()

    def _read_csv(self) -> Iterable[Tuple[str, str]]:
        with open(self.ann_file, newline='', encoding='utf-8') as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise AnnotationError(f'{self.ann_file}: the file is empty')
            header = [h.strip() for h in header]
            missing = [c for c in WEBVID_COLUMNS if c not in header]
            if missing:
                raise AnnotationError(
                    f'{self.ann_file}: missing column(s) {missing}; expected '
                    f'the WebVid header videoid,contentUrl,duration,page_dir,'
                    f'name, got {header}')
            col = {name: header.index(name) for name in header}
            fields = [f for f in self._template_fields() if f not in col]
            if fields:
                raise AnnotationError(
                    f'{self.ann_file}: video_template {self.video_template!r}'
                    f' uses column(s) {fields} absent from the header')
            i_name = col['name']
            for line, row in enumerate(reader, start=2):
                if len(row) != len(header):
                    raise AnnotationError(
                        f'{self.ann_file}: row {line}: expected '
                        f'{len(header)} fields, got {len(row)}: {row!r}')
                values = {k: row[i] for k, i in col.items()}
                if not values['videoid'].strip():
                    raise AnnotationError(
                        f'{self.ann_file}: row {line}: empty videoid')
                yield self.video_template.format(**values), row[i_name].strip()

    def _template_fields(self):
        import string
        return [name for _, name, _, _ in
                string.Formatter().parse(self.video_template) if name]


def read_video_caption_json(ann_file: str) -> Iterable[Tuple[str, str]]:
    """Read the authors' ``{video_path: caption}`` JSON (values may be lists)."""
    with open(ann_file, encoding='utf-8') as f:
        try:
            content = json.load(f)
        except json.JSONDecodeError as e:
            raise AnnotationError(f'{ann_file}: invalid JSON: {e}') from None
    if not isinstance(content, dict):
        raise AnnotationError(
            f'{ann_file}: expected a JSON object {{video_path: caption}}, got '
            f'a {type(content).__name__}')
    for video, value in content.items():
        for caption in captions_of(value, ann_file, f'key {video!r}'):
            yield video, caption
