"""Base class for video-caption datasets read from annotation files.

Every reader turns its file format into a flat list of ``(video, caption)``
pairs; this class turns those into mmaction-style data infos
(``filename``, ``text``, ``video_id``, ``text_id``) that DecordInit and the
text transforms consume. mmengine's ``serialize_data`` (on by default) packs the
list into one numpy byte buffer, so dataloader workers share it copy-on-write
instead of each holding a copy of millions of Python dicts.
"""
import os.path as osp
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from mmaction.datasets import BaseActionDataset
from mmengine.fileio import exists


class AnnotationError(ValueError):
    """A malformed annotation; the message names the file and the row/key."""


class VideoTextPairDataset(BaseActionDataset):
    """Video-caption pairs; subclasses implement :meth:`read_pairs`.

    Args:
        ann_file: the annotation file.
        pipeline: the data pipeline.
        data_prefix: ``dict(video=root)``; relative video paths are joined
            to it, absolute ones are kept.
        per_video: if True, one item per video holding every caption
            (``text`` is a list; retrieval evaluation); if False (default), one
            item per (video, caption) pair (training).
        max_pairs: keep only the first ``max_pairs`` items (quick runs).
        **kwargs: forwarded to :class:`mmaction.datasets.BaseActionDataset`.
    """

    def __init__(self,
                 ann_file: str,
                 pipeline: List[Union[dict, Callable]] = [],
                 data_prefix: Dict = dict(video=''),
                 per_video: bool = False,
                 max_pairs: Optional[int] = None,
                 **kwargs) -> None:
        self.per_video = per_video
        self.max_pairs = max_pairs
        super().__init__(
            ann_file, pipeline=pipeline, data_prefix=data_prefix, **kwargs)

    def read_pairs(self) -> Iterable[Tuple[str, str]]:
        """Yield ``(video path, caption)`` in file order."""
        raise NotImplementedError(
            f'{type(self).__name__} must implement read_pairs()')

    def _video_path(self, video: str) -> str:
        root = self.data_prefix.get('video', '') or ''
        return video if osp.isabs(video) or not root else osp.join(root, video)

    def load_data_list(self) -> List[dict]:
        if not exists(self.ann_file):
            raise FileNotFoundError(
                f'annotation file {self.ann_file!r} does not exist')
        data_list = []
        video_index: Dict[str, int] = {}
        num_texts = 0
        for video, caption in self.read_pairs():
            path = self._video_path(video)
            video_id = video_index.setdefault(path, len(video_index))
            if self.per_video:
                if video_id == len(data_list):
                    data_list.append(
                        dict(filename=path, text=[], video_id=video_id,
                             text_id=[]))
                data_list[video_id]['text'].append(caption)
                data_list[video_id]['text_id'].append(num_texts)
            else:
                data_list.append(
                    dict(filename=path, text=caption, video_id=video_id,
                         text_id=num_texts))
            num_texts += 1
            if self.max_pairs and len(data_list) >= self.max_pairs:
                break
        if not data_list:
            raise AnnotationError(
                f'{self.ann_file}: no video-caption pairs found')
        self.num_videos = len(video_index)
        self.num_texts = num_texts
        return data_list


def check_caption(caption, ann_file: str, where: str) -> str:
    """Return a stripped caption or raise naming the file and row/key."""
    if not isinstance(caption, str):
        raise AnnotationError(
            f'{ann_file}: {where}: caption must be a string, got '
            f'{type(caption).__name__} {caption!r}')
    return caption.strip()


def captions_of(value, ann_file: str, where: str) -> Sequence[str]:
    """A caption field that may hold one string or a list of strings."""
    if isinstance(value, str):
        return [check_caption(value, ann_file, where)]
    if isinstance(value, (list, tuple)) and value:
        return [check_caption(v, ann_file, f'{where}[{i}]')
                for i, v in enumerate(value)]
    raise AnnotationError(
        f'{ann_file}: {where}: expected a caption string or a non-empty list '
        f'of captions, got {value!r}')
