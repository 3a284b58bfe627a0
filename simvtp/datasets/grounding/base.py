"""Base class of temporal grounding datasets over pre-extracted features.

One item is one query: a sentence, its video's clip features resampled to
``num_sample_clips`` (and L2-normalised per clip, as 2D-TAN does), the
ground-truth ``[start, end]`` in seconds and the video's duration.
Subclasses read an annotation format into :class:`Query` records; this
class clips and filters them, carves a validation split when asked, and
checks the feature file against the annotations before training starts.
"""
import logging
from dataclasses import dataclass
from typing import Callable, Iterator, List, Optional, Sequence, Union

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from ..video_text import AnnotationError
from .feature_store import FeatureStore, average_to_fixed_length

__all__ = ['Query', 'TemporalGroundingDataset', 'HOLDOUT_PARTS']

HOLDOUT_PARTS = ('train', 'heldout')


@dataclass
class Query:
    """One annotated query, as read from the file.

    ``where`` locates it for error messages (``file:line`` or ``file
    [key][i]``).
    """
    video_id: str
    start: float
    end: float
    duration: float
    text: str
    where: str


class TemporalGroundingDataset(BaseDataset):
    """Queries over videos with pre-extracted clip features.

    Args:
        ann_file: the annotation file.
        feature_file: HDF5 features (see :mod:`.feature_store`); None
            gives annotation-only items (statistics, baselines).
        feature_layout: ``'activitynet'`` (``f[vid]['c3d_features']``) or
            ``'charades'`` / ``'tacos'`` / ``'flat'`` (``f[vid]``).
        feature_key_format: video id -> key in the file (``'{}'``).
        num_sample_clips: features are averaged to this many clips (2D-TAN:
            256); the model's frame pool reduces them to its ``N``.
        normalize: L2-normalise each clip feature (2D-TAN: True).
        holdout: carve a validation split from this file, by video:
            ``dict(fraction=0.1, seed=0, part='train' | 'heldout')``;
            the same fraction and seed give complementary parts.
        missing_features: ``'error'`` (default) or ``'skip'`` (drop the
            queries of videos without features, with a warning).
        max_queries: keep the first queries only (quick runs).
        pipeline, test_mode, ...: see ``mmengine.dataset.BaseDataset``.
    """

    def __init__(self,
                 ann_file: str,
                 feature_file: Optional[str] = None,
                 feature_layout: str = 'activitynet',
                 feature_key_format: str = '{}',
                 num_sample_clips: int = 256,
                 normalize: bool = True,
                 holdout: Optional[dict] = None,
                 missing_features: str = 'error',
                 max_queries: Optional[int] = None,
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 test_mode: bool = False,
                 **kwargs) -> None:
        if missing_features not in ('error', 'skip'):
            raise ValueError("missing_features must be 'error' or 'skip', "
                             f'got {missing_features!r}')
        if holdout is not None:
            holdout = dict(holdout)
            unknown = set(holdout) - {'fraction', 'seed', 'part'}
            if unknown or holdout.get('part', 'train') not in HOLDOUT_PARTS \
                    or not 0 < holdout.get('fraction', 0.1) < 1:
                raise ValueError(
                    f'holdout must be dict(fraction in (0, 1), seed=int, '
                    f'part in {HOLDOUT_PARTS}), got {holdout}')
        if int(num_sample_clips) < 1:
            raise ValueError(f'num_sample_clips must be >= 1, got '
                             f'{num_sample_clips}')
        self.store = None if feature_file is None else FeatureStore(
            feature_file, feature_layout, feature_key_format)
        self.num_sample_clips = int(num_sample_clips)
        self.normalize = bool(normalize)
        self.holdout = holdout
        self.missing_features = missing_features
        self.max_queries = max_queries
        self.feature_dim = None
        super().__init__(ann_file=ann_file, pipeline=list(pipeline),
                         test_mode=test_mode, **kwargs)

    # -------------------------------------------------------------- reading
    def read_queries(self) -> Iterator[Query]:
        """Yield the annotation file's queries in file order."""
        raise NotImplementedError(
            f'{type(self).__name__} must implement read_queries()')

    def _valid(self, queries: Iterator[Query]) -> List[Query]:
        """Clip times to the video; drop empty segments (as 2D-TAN)."""
        kept, dropped = [], []
        for q in queries:
            if not np.isfinite(q.duration) or q.duration <= 0:
                raise AnnotationError(f'{q.where}: duration {q.duration} '
                                      'must be a positive number')
            start, end = max(q.start, 0.0), min(q.end, q.duration)
            if start >= end:
                dropped.append(q)
                continue
            q.start, q.end = float(start), float(end)
            if not q.text.strip():
                raise AnnotationError(f'{q.where}: empty sentence')
            kept.append(q)
        if dropped:
            print_log(f'{self.ann_file}: dropped {len(dropped)} queries '
                      f'whose segment is empty after clipping to the video '
                      f'(e.g. {dropped[0].where}: {dropped[0].start}-'
                      f'{dropped[0].end} s of {dropped[0].duration} s)',
                      logger='current', level=logging.WARNING)
        return kept

    def _split(self, queries: List[Query]) -> List[Query]:
        if self.holdout is None:
            return queries
        videos = sorted({q.video_id for q in queries})
        rng = np.random.default_rng(int(self.holdout.get('seed', 0)))
        count = int(round(self.holdout.get('fraction', 0.1) * len(videos)))
        heldout = {videos[i] for i in rng.permutation(len(videos))[:count]}
        want = self.holdout.get('part', 'train') == 'heldout'
        return [q for q in queries if (q.video_id in heldout) == want]

    def load_data_list(self) -> List[dict]:
        queries = self._split(self._valid(self.read_queries()))
        if not queries:
            raise AnnotationError(f'{self.ann_file}: no usable queries')
        if self.store is not None:
            missing, self.feature_dim = self.store.check(
                [q.video_id for q in queries], self.ann_file)
            if missing:
                message = (f'{len(missing)} of '
                           f'{len({q.video_id for q in queries})} videos of '
                           f'{self.ann_file} have no features in '
                           f'{self.store.path} (e.g. {missing[:5]})')
                if self.missing_features == 'error':
                    raise AnnotationError(
                        message + "; extract them, or set missing_features="
                        "'skip' to drop their queries")
                print_log(message + '; their queries are dropped',
                          logger='current', level=logging.WARNING)
                gone = set(missing)
                queries = [q for q in queries if q.video_id not in gone]
        if self.max_queries is not None:
            queries = queries[:int(self.max_queries)]
        return [dict(video_id=q.video_id, gt_times=(q.start, q.end),
                     duration=q.duration, text=q.text.strip(), query_id=i,
                     where=q.where)
                for i, q in enumerate(queries)]

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        if self.store is not None:
            features = average_to_fixed_length(
                self.store.get(info['video_id']), self.num_sample_clips)
            if self.normalize:
                norm = np.linalg.norm(features, axis=1, keepdims=True)
                features = features / np.maximum(norm, 1e-12)
            info['features'] = features
        return info
