"""Charades-STA annotations: ``vid start end##sentence`` lines."""
import csv
import math
from typing import Dict, Iterator, Optional

from ...registry import DATASETS
from ..video_text import AnnotationError
from .base import Query, TemporalGroundingDataset

__all__ = ['CharadesSTAGroundingDataset', 'read_charades_durations']


def read_charades_durations(path: str) -> Dict[str, float]:
    """``{id: length}`` from ``Charades_v1_{split}.csv``."""
    try:
        f = open(path, encoding='utf-8', newline='')
    except FileNotFoundError:
        raise FileNotFoundError(f'duration file {path!r} does not exist '
                                '(Charades_v1_train.csv / '
                                'Charades_v1_test.csv)') from None
    with f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames or []
        if 'id' not in fields or 'length' not in fields:
            raise AnnotationError(f'{path}:1: expected columns "id" and '
                                  f'"length", got {fields}')
        durations = {}
        for row in reader:
            line = reader.line_num
            try:
                length = float(row['length'])
            except (TypeError, ValueError):
                raise AnnotationError(f'{path}:{line}: length '
                                      f'{row["length"]!r} is not a number') \
                    from None
            if not math.isfinite(length) or length <= 0:
                raise AnnotationError(f'{path}:{line}: length {length} must '
                                      'be positive')
            durations[row['id']] = length
    return durations


@DATASETS.register_module()
class CharadesSTAGroundingDataset(TemporalGroundingDataset):
    """Charades-STA: ``charades_sta_{split}.txt`` lines ``VID START
    END##sentence`` (seconds), durations from ``Charades_v1_{split}.csv``.

    Charades-STA has no validation split; give ``holdout=dict(fraction,
    seed, part)`` to carve one from the training file by video (2D-TAN
    selects its checkpoints on the test split; we do not).

    Args:
        duration_file: ``Charades_v1_{split}.csv`` (columns ``id``,
            ``length``).
        **kwargs: see :class:`TemporalGroundingDataset`.
    """

    def __init__(self, ann_file: str, duration_file: Optional[str] = None,
                 **kwargs) -> None:
        if duration_file is None:
            raise ValueError('CharadesSTAGroundingDataset needs '
                             'duration_file (Charades_v1_{split}.csv)')
        self.duration_file = duration_file
        super().__init__(ann_file=ann_file, **kwargs)

    def read_queries(self) -> Iterator[Query]:
        durations = read_charades_durations(self.duration_file)
        try:
            f = open(self.ann_file, encoding='utf-8')
        except FileNotFoundError:
            raise FileNotFoundError(f'annotation file {self.ann_file!r} '
                                    'does not exist') from None
        with f:
            for lineno, line in enumerate(f, 1):
                line = line.rstrip('\r\n')
                if not line.strip():
                    continue
                where = f'{self.ann_file}:{lineno}'
                head, sep, sentence = line.partition('##')
                fields = head.split()
                if not sep or len(fields) != 3:
                    raise AnnotationError(
                        f'{where}: expected "VIDEO START END##SENTENCE", '
                        f'got {line!r}')
                vid, start, end = fields
                try:
                    start, end = float(start), float(end)
                except ValueError:
                    raise AnnotationError(f'{where}: start/end {fields[1:]} '
                                          'are not numbers') from None
                if vid not in durations:
                    raise AnnotationError(
                        f'{where}: video {vid!r} is not in '
                        f'{self.duration_file} (use the csv of the same '
                        'split)')
                yield Query(vid, start, end, durations[vid],
                            sentence.strip().rstrip('.').strip(), where)
