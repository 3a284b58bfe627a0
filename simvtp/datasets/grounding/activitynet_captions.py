"""ActivityNet Captions and TACoS annotations (JSON, one entry per video)."""
import json
import math
from typing import Iterator

from ...registry import DATASETS
from ..video_text import AnnotationError
from .base import Query, TemporalGroundingDataset

__all__ = ['ActivityNetCaptionsGroundingDataset', 'TACoSGroundingDataset']


def _load_json(path: str) -> dict:
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except FileNotFoundError:
        raise FileNotFoundError(f'annotation file {path!r} does not exist') \
            from None
    except json.JSONDecodeError as exc:
        raise AnnotationError(f'{path}:{exc.lineno}: invalid JSON '
                              f'({exc.msg}, column {exc.colno})') from None
    if not isinstance(data, dict):
        raise AnnotationError(f'{path}: expected an object {{video_id: '
                              f'{{...}}}}, got a {type(data).__name__}')
    return data


def _number(value, where: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not math.isfinite(value):
        raise AnnotationError(f'{where}: {what} must be a finite number, got '
                              f'{value!r}')
    return float(value)


def _entries(path: str, data: dict, fields) -> Iterator[tuple]:
    """``(video_id, entry, where)`` after checking the shared fields."""
    for vid, entry in data.items():
        where = f'{path} [{vid!r}]'
        if not isinstance(entry, dict):
            raise AnnotationError(f'{where}: expected an object, got '
                                  f'{type(entry).__name__}')
        absent = [k for k in fields if k not in entry]
        if absent:
            raise AnnotationError(f'{where}: missing {absent} (expected '
                                  f'{list(fields)})')
        stamps, sentences = entry['timestamps'], entry['sentences']
        if not isinstance(stamps, list) or not isinstance(sentences, list) \
                or len(stamps) != len(sentences):
            raise AnnotationError(
                f'{where}: timestamps and sentences must be lists of equal '
                f'length, got {type(stamps).__name__}'
                f'[{len(stamps) if isinstance(stamps, list) else "?"}] and '
                f'{type(sentences).__name__}'
                f'[{len(sentences) if isinstance(sentences, list) else "?"}]'
            )
        yield vid, entry, where


def _segment(stamp, where: str) -> tuple:
    if not isinstance(stamp, (list, tuple)) or len(stamp) != 2:
        raise AnnotationError(f'{where}: a timestamp must be [start, end], '
                              f'got {stamp!r}')
    return (_number(stamp[0], where, 'start'),
            _number(stamp[1], where, 'end'))


def _sentence(text, where: str) -> str:
    if not isinstance(text, str):
        raise AnnotationError(f'{where}: a sentence must be a string, got '
                              f'{type(text).__name__}')
    return text.strip()


@DATASETS.register_module()
class ActivityNetCaptionsGroundingDataset(TemporalGroundingDataset):
    """ActivityNet Captions: ``{vid: {"duration": s, "timestamps": [[s, e],
    ...], "sentences": [...]}}`` with times in seconds.

    The official splits are ``train.json``, ``val_1.json`` and
    ``val_2.json``; 2D-TAN (and we) validate on ``val_1`` and test on
    ``val_2`` (2D-TAN renames them ``val.json`` / ``test.json``).
    """

    def read_queries(self) -> Iterator[Query]:
        data = _load_json(self.ann_file)
        for vid, entry, where in _entries(
                self.ann_file, data, ('duration', 'timestamps', 'sentences')):
            duration = _number(entry['duration'], where, 'duration')
            for i, (stamp, text) in enumerate(zip(entry['timestamps'],
                                                  entry['sentences'])):
                at = f'{where}[{i}]'
                start, end = _segment(stamp, at)
                yield Query(vid, start, end, duration, _sentence(text, at),
                            at)


@DATASETS.register_module()
class TACoSGroundingDataset(TemporalGroundingDataset):
    """TACoS as 2D-TAN distributes it: ``{vid: {"timestamps": [[f0, f1],
    ...], "sentences": [...], "fps": x, "num_frames": n}}`` with times in
    frames; seconds are ``frame / fps``, the duration ``num_frames / fps``.
    Video ids keep their extension (``s30-d52.avi``), so extract features
    with ``--key name``. Splits: train / val / test (75 / 27 / 25 videos).
    """

    def read_queries(self) -> Iterator[Query]:
        data = _load_json(self.ann_file)
        for vid, entry, where in _entries(
                self.ann_file, data,
                ('timestamps', 'sentences', 'fps', 'num_frames')):
            fps = _number(entry['fps'], where, 'fps')
            if fps <= 0:
                raise AnnotationError(f'{where}: fps must be > 0, got {fps}')
            duration = _number(entry['num_frames'], where, 'num_frames') / fps
            for i, (stamp, text) in enumerate(zip(entry['timestamps'],
                                                  entry['sentences'])):
                at = f'{where}[{i}]'
                start, end = _segment(stamp, at)
                yield Query(vid, start / fps, end / fps, duration,
                            _sentence(text, at), at)
