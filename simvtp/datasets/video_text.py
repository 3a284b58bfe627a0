"""Base class for video-caption datasets read from annotation files.

Every reader turns its file format into a flat stream of ``(video, caption)``
pairs; this class stores them in a :class:`~.caption_table.CaptionTable`
(a few numpy arrays, no Python object per pair, shared copy-on-write by
dataloader workers) and hands out mmaction-style data infos (``filename``,
``text``, ``video_id``, ``text_id``) that DecordInit and the text transforms
consume.

A sample that cannot be used raises: a file the pipeline cannot read raises
the reader's error, an empty caption a
:class:`~.sample_marks.BrokenSampleError` in training. Wrap the dataset in
:class:`~.broken_sample_guard.BrokenSampleGuard` (the shipped configs do) to
replace such samples in training and flag them in testing. In test mode an
empty caption is not an error: the item is evaluated on its real frames and
flagged in ``data_warnings``, so the test set keeps its size.
"""
import os.path as osp
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from mmaction.datasets import BaseActionDataset
from mmengine.fileio import exists

from .caption_table import CaptionTable, CaptionTableBuilder
from .holdout import check_holdout, held_out_videos
from .sample_marks import BrokenSampleError, mark

#: arguments that moved to BrokenSampleGuard (dataset wrapper)
GUARD_ARGUMENTS = ('max_read_attempts', 'resample_seed', 'placeholder_size')


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
        holdout: ``dict(part='train'|'val', num_videos=N | fraction=f,
            seed=0)``: a fixed, seeded set of videos held out of the file
            (:mod:`~.holdout`); ``'val'`` keeps only those, ``'train'`` the
            others (a validation split carved from training annotations).
        join_captions: a separator: all captions of a video become one
            caption joined by it, in file order (paragraph-to-video
            retrieval, e.g. DiDeMo); None keeps them apart.
        **kwargs: forwarded to :class:`mmaction.datasets.BaseActionDataset`.
    """

    def __init__(self,
                 ann_file: str,
                 pipeline: List[Union[dict, Callable]] = [],
                 data_prefix: Dict = dict(video=''),
                 per_video: bool = False,
                 max_pairs: Optional[int] = None,
                 holdout: Optional[dict] = None,
                 join_captions: Optional[str] = None,
                 **kwargs) -> None:
        moved = [k for k in GUARD_ARGUMENTS if k in kwargs]
        if moved:
            raise TypeError(
                f'{type(self).__name__}: {", ".join(moved)} moved to the '
                "BrokenSampleGuard wrapper: dataset=dict(type="
                "'BrokenSampleGuard', " + f'{moved[0]}=..., dataset=dict('
                f"type='{type(self).__name__}', ...))")
        self.per_video = per_video
        self.max_pairs = max_pairs
        self.join_captions = join_captions
        self.holdout = check_holdout(holdout, f'{type(self).__name__}('
                                     f'ann_file={ann_file!r})')
        super().__init__(
            ann_file, pipeline=pipeline, data_prefix=data_prefix, **kwargs)

    def read_pairs(self) -> Iterable[Tuple[str, str]]:
        """Yield ``(video path, caption)`` in file order."""
        raise NotImplementedError(
            f'{type(self).__name__} must implement read_pairs()')

    def _video_path(self, video: str) -> str:
        root = self.data_prefix.get('video', '') or ''
        return video if osp.isabs(video) or not root else osp.join(root, video)

    def load_table(self) -> CaptionTable:
        """Read the annotation file into a :class:`CaptionTable`."""
        if not exists(self.ann_file):
            raise FileNotFoundError(
                f'annotation file {self.ann_file!r} does not exist')
        builder = CaptionTableBuilder(self.per_video, self.max_pairs)
        pairs = self.read_pairs()
        if self.holdout is not None:
            pairs = list(pairs)
            held = held_out_videos((v for v, _ in pairs), self.holdout,
                                   self.ann_file)
            val = self.holdout['part'] == 'val'
            pairs = [p for p in pairs if (p[0] in held) == val]
        if self.join_captions is not None:
            paragraphs: Dict[str, List[str]] = {}
            for video, caption in pairs:
                paragraphs.setdefault(video, []).append(caption)
            pairs = [(video, self.join_captions.join(captions))
                     for video, captions in paragraphs.items()]
        for video, caption in pairs:
            # stored as written (the data root is joined per item: saves
            # len(root) bytes per row)
            if not builder.add(video, caption):
                break
        table = builder.build()
        if not len(table):
            raise AnnotationError(
                f'{self.ann_file}: no video-caption pairs found')
        return table

    def full_init(self) -> None:
        """Load the annotations into a compact table (see
        :mod:`~simvtp.datasets.caption_table`); ``serialize_data`` is not
        needed: the table is already a few numpy arrays that forked workers
        share."""
        if self._fully_initialized:
            return
        table = self.load_table()
        self.num_videos, self.num_texts = table.num_videos, table.num_texts
        if self._indices is not None:
            table = table.subset(self._indices)
        self.table = table
        self._fully_initialized = True

    def load_data_list(self) -> List[dict]:
        """Every item's info dict (for tools on small files; training reads
        items through :meth:`get_data_info` instead)."""
        return [self.get_data_info(i) for i in range(len(self))]

    def get_data_info(self, idx: int) -> dict:
        if not self._fully_initialized:
            self.full_init()
        info = self.table.info(idx)
        info['filename'] = self._video_path(info['filename'])
        info['sample_idx'] = idx if idx >= 0 else len(self) + idx
        info['modality'] = self.modality
        info['start_index'] = self.start_index
        return info

    def __len__(self) -> int:
        if not self._fully_initialized:
            self.full_init()
        return len(self.table)

    def get_subset_(self, indices: Union[Sequence[int], int]) -> None:
        if not self._fully_initialized:
            self.full_init()
        self.table = self.table.subset(indices)

    def prepare_data(self, idx: int):
        """The pipeline's output for item ``idx``; an empty caption raises a
        :class:`BrokenSampleError` in training and is flagged in test mode
        (the item is still evaluated, on its real frames)."""
        info = self.get_data_info(idx)
        text = info.get('text')
        captions = [text] if isinstance(text, str) else (text or [])
        empty = not captions or any(not c.strip() for c in captions)
        if empty and not self.test_mode:
            raise BrokenSampleError('empty or whitespace-only caption')
        data = self.pipeline(info)
        if empty and data is not None:
            mark(data, data_warnings=[(info['filename'],
                                       'empty or whitespace-only caption')])
        return data


def check_video(video, ann_file: str, where: str) -> str:
    """Return a video path / id or raise naming the file and row/key."""
    if not isinstance(video, str) or not video.strip():
        raise AnnotationError(
            f'{ann_file}: {where}: the video must be a non-empty string (a '
            f'path or an id), got {type(video).__name__} {video!r}')
    return video.strip()


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
