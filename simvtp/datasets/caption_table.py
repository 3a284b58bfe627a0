"""Compact, fork-friendly storage for millions of video-caption pairs.

mmengine's default (``serialize_data=True``) pickles one dict per sample into
a byte buffer. For WebVid-10M that still means building ~10M Python dicts
first (several GB at peak) and un-pickling on every ``__getitem__``; the
freed dicts also leave the main process's heap fragmented, and every forked
dataloader worker inherits those pages. :class:`CaptionTable` never holds one
Python object per pair: paths and captions are appended as UTF-8 to two
``bytearray`` buffers with ``int64`` end offsets, and a caption's video is an
``int32`` index. Paths are kept as the annotation writes them (the data root
is joined per item). After :meth:`CaptionTableBuilder.build` everything lives in
five numpy arrays, so workers share them copy-on-write and a sample costs two
slices and two ``decode`` calls.

Measured with ``tools/analysis_tools/benchmark_annotations.py`` (numbers in
its docstring and the README's performance section).
"""
from array import array
from typing import Dict, Optional, Sequence, Union

import numpy as np


class PackedStrings:
    """``n`` strings in one UTF-8 buffer.

    Args:
        data: ``(total_bytes,)`` uint8, the strings back to back.
        ends: ``(n,)`` int64, the end offset of each string in ``data``.
    """

    def __init__(self, data: np.ndarray, ends: np.ndarray) -> None:
        self.data = data
        self.ends = ends

    def __len__(self) -> int:
        return len(self.ends)

    def __getitem__(self, i: int) -> str:
        end = int(self.ends[i])
        start = int(self.ends[i - 1]) if i > 0 else 0
        return self.data[start:end].tobytes().decode('utf-8')

    @property
    def nbytes(self) -> int:
        return self.data.nbytes + self.ends.nbytes


class _StringBuilder:
    """Appends strings to a ``bytearray``; freezes into :class:`PackedStrings`."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._ends = array('q')

    def append(self, text: str) -> None:
        self._data += text.encode('utf-8')
        self._ends.append(len(self._data))

    def __len__(self) -> int:
        return len(self._ends)

    def build(self) -> PackedStrings:
        data = np.frombuffer(bytes(self._data), dtype=np.uint8)
        ends = np.frombuffer(self._ends.tobytes(), dtype=np.int64)
        self._data, self._ends = bytearray(), array('q')
        return PackedStrings(data, ends)


class CaptionTable:
    """Videos, captions and which video each caption belongs to.

    Items are either pairs (one per caption; training) or videos (one per
    video with all its captions; retrieval evaluation).

    Args:
        videos: the unique video paths; ``video_id`` is the position.
        captions: the captions in file order; ``text_id`` is the position.
        caption_video: ``(num_texts,)`` int32 (int64 beyond 2**31 videos)
            video id of each caption.
        per_video: items are videos (True) or pairs (False).
        rows: optional ``(num_items,)`` int64 subset/reordering of the items.
    """

    def __init__(self, videos: PackedStrings, captions: PackedStrings,
                 caption_video: np.ndarray, per_video: bool,
                 rows: Optional[np.ndarray] = None) -> None:
        self.videos = videos
        self.captions = captions
        self.caption_video = caption_video
        self.per_video = per_video
        self.rows = rows
        if per_video:
            # captions grouped by video, file order kept inside a video
            self._by_video = np.argsort(caption_video, kind='stable')
            self._video_ends = np.searchsorted(
                caption_video[self._by_video],
                np.arange(1, len(videos) + 1)).astype(np.int64)

    @property
    def num_videos(self) -> int:
        return len(self.videos)

    @property
    def num_texts(self) -> int:
        return len(self.captions)

    @property
    def nbytes(self) -> int:
        extra = 0
        if self.per_video:
            extra = self._by_video.nbytes + self._video_ends.nbytes
        if self.rows is not None:
            extra += self.rows.nbytes
        return (self.videos.nbytes + self.captions.nbytes +
                self.caption_video.nbytes + extra)

    def __len__(self) -> int:
        if self.rows is not None:
            return len(self.rows)
        return self.num_videos if self.per_video else self.num_texts

    def info(self, idx: int) -> Dict:
        """``filename``, ``text``, ``video_id``, ``text_id`` of item ``idx``
        (lists for ``text``/``text_id`` when items are videos)."""
        if self.rows is not None:
            idx = int(self.rows[idx])
        elif idx < 0:
            idx += len(self)
        if not self.per_video:
            video_id = int(self.caption_video[idx])
            return dict(filename=self.videos[video_id],
                        text=self.captions[idx], video_id=video_id,
                        text_id=idx)
        end = int(self._video_ends[idx])
        start = int(self._video_ends[idx - 1]) if idx > 0 else 0
        text_ids = self._by_video[start:end].tolist()
        return dict(filename=self.videos[idx],
                    text=[self.captions[t] for t in text_ids],
                    video_id=idx, text_id=text_ids)

    def subset(self, indices: Union[int, Sequence[int]]) -> 'CaptionTable':
        """mmengine ``indices`` semantics: an int keeps the first (>= 0) or
        last (< 0) items, a sequence keeps those items in that order."""
        n = len(self)
        if isinstance(indices, (int, np.integer)):
            rows = np.arange(n)[:indices] if indices >= 0 \
                else np.arange(n)[indices:]
        else:
            rows = np.asarray(list(indices), dtype=np.int64)
            if rows.size and (rows.max() >= n or rows.min() < -n):
                raise IndexError(f'subset indices out of range for {n} items')
            rows = rows % max(n, 1)
        if self.rows is not None:
            rows = self.rows[rows]
        return CaptionTable(self.videos, self.captions, self.caption_video,
                            self.per_video, rows.astype(np.int64))


class CaptionTableBuilder:
    """Collects ``(video path, caption)`` pairs into a :class:`CaptionTable`.

    Args:
        per_video: see :class:`CaptionTable`.
        max_items: stop accepting after this many items (pairs, or videos
            when ``per_video``; later captions of kept videos still count).
    """

    def __init__(self, per_video: bool = False,
                 max_items: Optional[int] = None) -> None:
        self.per_video = per_video
        self.max_items = max_items
        self._video_ids: Dict[str, int] = {}
        self._videos = _StringBuilder()
        self._captions = _StringBuilder()
        self._caption_video = array('q')

    def add(self, video: str, caption: str) -> bool:
        """Add one pair; returns False once no more items are accepted."""
        video_id = self._video_ids.get(video)
        if video_id is None:
            if self.per_video and self.full:
                return True  # a video beyond the limit; keep reading
            video_id = len(self._video_ids)
            self._video_ids[video] = video_id
            self._videos.append(video)
        self._captions.append(caption)
        self._caption_video.append(video_id)
        return self.per_video or not self.full

    @property
    def full(self) -> bool:
        count = len(self._videos) if self.per_video else len(self._captions)
        return self.max_items is not None and count >= self.max_items

    def build(self) -> CaptionTable:
        self._video_ids = {}  # the only per-pair Python objects
        caption_video = np.frombuffer(self._caption_video.tobytes(),
                                      dtype=np.int64)
        if len(self._videos) < 2 ** 31:
            caption_video = caption_video.astype(np.int32)
        self._caption_video = array('q')
        return CaptionTable(self._videos.build(), self._captions.build(),
                            caption_video, self.per_video)
