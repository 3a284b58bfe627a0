"""Text-video retrieval recall for test sets with several captions a video.

mmaction2's ``RetrievalMetric`` pairs item ``i``'s caption with item ``i``'s
video and assumes every video is different. On MSR-VTT's full test split
(20 captions per video), where each (video, caption) pair is one dataset
item, the same video then appears 20 times: each caption ties with 20
identical video features, its row contributes 20 ranks, and R@K and the
median rank come out wrong. This metric groups items by ``video_id``: each
caption is ranked against the unique videos (text-to-video), and each video
against all captions, counting its best-ranked own caption (video-to-text,
the usual convention for multi-caption sets). With one caption per video it
gives exactly mmaction2's text-to-video numbers.

Ties are resolved neither for nor against the query but by their
expectation under a uniformly random order among the tied candidates. With
``b`` candidates strictly more similar than the ground truth and ``e`` other
candidates exactly as similar, the ground truth's 0-based rank is uniform on
``b .. b + e``, so

* ``R@K`` counts ``P(rank < K) = clip((K - b) / (e + 1), 0, 1)`` per query;
* ``MdR`` / ``MnR`` use the mean rank over the tie, ``b + e / 2`` (+ 1).

Without ties this is the usual strict rank. A collapsed model (every feature
equal) therefore scores chance: ``R@K = K / N`` and ``MdR = (N + 1) / 2``
with ``N`` candidates. mmaction2's ``RetrievalMetric`` and the authors'
evaluation (Frozen's ``t2v_metrics``) instead count only strictly better
candidates, i.e. break every tie in the ground truth's favour: such a model,
all-zero video features or a decoding failure that yields identical clips
then score R@1 = 100 there. Non-finite features raise an error instead of
ranking.
"""
from collections import OrderedDict
import re
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.evaluator import BaseMetric

from ...registry import METRICS

METRICS_LIST = ('R1', 'R5', 'R10', 'MdR', 'MnR')
_RECALL = re.compile(r'R([1-9][0-9]*)$')
#: cosine similarities this close to the ground truth's count as tied
TIE_ATOL = 1e-9


@METRICS.register_module()
class VideoTextRetrievalMetric(BaseMetric):
    """Recall@K / median / mean rank, text-to-video and video-to-text.

    Reads from each predicted data sample: ``features.video_feature`` (D,),
    ``features.text_feature`` (D,) or, for per-video items,
    ``caption_features`` (K, D), and ``video_id`` (from the dataset's
    metainfo; items without one count as distinct videos). Items may be
    (video, caption) pairs (the video decoded once per caption) or videos
    with all their captions (``per_video=True`` datasets: decoded once).

    Args:
        metric_list: ``R<K>`` for any K >= 1 (e.g. ``R1 R5 R10 R50``),
            ``MdR`` and ``MnR``.
        video_to_text: also report ``v2t_*`` figures.
        collect_device, prefix: see ``mmengine.evaluator.BaseMetric``.
    """
    default_prefix = 'retrieval'

    def __init__(self, metric_list: Sequence[str] = METRICS_LIST,
                 video_to_text: bool = True,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        unknown = [m for m in metric_list
                   if m not in ('MdR', 'MnR') and not _RECALL.match(m)]
        if unknown:
            raise ValueError(f'unknown metric(s) {unknown}; choose R<K> '
                             '(e.g. R1, R5, R10, R50), MdR or MnR')
        self.metric_list = tuple(metric_list)
        self.video_to_text = video_to_text

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            features = sample['features']
            texts = sample.get('caption_features')  # per-video items
            texts = _numpy(features['text_feature'])[None] if texts is None \
                else _numpy(texts)
            self.results.append(dict(
                video_feature=_numpy(features['video_feature']),
                text_features=texts, video_id=sample.get('video_id')))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        videos: Dict = OrderedDict()  # video_id -> column
        video_feats, text_feats, text_video = [], [], []
        for i, res in enumerate(results):
            key = res['video_id'] if res['video_id'] is not None \
                else ('item', i)
            if key not in videos:
                videos[key] = len(video_feats)
                video_feats.append(res['video_feature'])
            for text in res['text_features']:
                text_feats.append(text)
                text_video.append(videos[key])
        v = _unit(_finite(np.stack(video_feats), 'video'))
        t = _unit(_finite(np.stack(text_feats), 'text'))
        t2v, v2t = _rank_counts(t, v, np.asarray(text_video))
        metrics = _summarise(*t2v, self.metric_list, '')
        if self.video_to_text:
            metrics.update(_summarise(*v2t, self.metric_list, 'v2t_'))
        metrics['num_videos'] = len(video_feats)
        metrics['num_texts'] = len(text_feats)
        return metrics


def _numpy(x) -> np.ndarray:
    if hasattr(x, 'detach'):
        x = x.detach().float().cpu().numpy()
    # float32: MSR-VTT's full split is a 59,800 x 2,990 similarity matrix
    return np.asarray(x, dtype=np.float32)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _rank_counts(t: np.ndarray, v: np.ndarray, gt: np.ndarray,
                 chunk: int = 4096) -> Tuple[tuple, tuple]:
    """Strictly-better and tied counts of every query.

    Similarities are computed in float64, ``chunk`` texts at a time (MSR-VTT's
    full split: 59,800 x 2,990), and candidates within :data:`TIE_ATOL` of
    the ground truth count as tied: a matmul rounds equal feature rows
    differently in different columns, which must not decide a tie.

    Args:
        t: ``(N_t, D)`` unit text features; v: ``(N_v, D)`` unit video
            features; gt: ``(N_t,)`` the video column of each text.

    Returns:
        ``((better, tied) per text, (better, tied) per video)``; for a video
        the query score is its best own caption's and the candidates are the
        other videos' captions.
    """
    t64, v64 = t.astype(np.float64), v.astype(np.float64)
    num_t, num_v = len(t), len(v)
    own = np.einsum('nd,nd->n', t64, v64[gt])
    best = np.full(num_v, -np.inf)
    np.maximum.at(best, gt, own)
    t_better = np.empty(num_t, np.int64)
    t_tied = np.empty(num_t, np.int64)
    v_better = np.zeros(num_v, np.int64)
    v_tied = np.zeros(num_v, np.int64)
    columns = np.arange(num_v)[None]
    for start in range(0, num_t, chunk):
        rows = slice(start, start + chunk)
        sim = t64[rows] @ v64.T  # (chunk, N_v)
        diff = sim - own[rows, None]
        tie = np.abs(diff) <= TIE_ATOL
        t_better[rows] = (diff > TIE_ATOL).sum(axis=1)
        t_tied[rows] = tie.sum(axis=1) - 1  # minus the ground truth itself
        other = gt[rows, None] != columns  # captions of other videos
        diff = sim - best[None]
        v_better += ((diff > TIE_ATOL) & other).sum(axis=0)
        v_tied += ((np.abs(diff) <= TIE_ATOL) & other).sum(axis=0)
    return (t_better, t_tied), (v_better, v_tied)


def _finite(x: np.ndarray, kind: str) -> np.ndarray:
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise ValueError(
            f'{int(bad.sum())} of {len(x)} {kind} feature rows hold NaN or '
            f'inf (first rows: {rows[:5].tolist()}): the model diverged or '
            'produced no valid output for them; refusing to rank')
    return x


def _summarise(better: np.ndarray, tied: np.ndarray, names: Sequence[str],
               prefix: str) -> Dict[str, float]:
    """Figures from, per query, the count of strictly better candidates
    (``better``) and of other candidates tied with the ground truth
    (``tied``); see the module docstring for the tie rule."""
    better = better.astype(np.float64)
    tied = tied.astype(np.float64)
    out = OrderedDict()
    for name in names:
        match = _RECALL.match(name)
        if match:
            k = int(match.group(1))
            hit = np.clip((k - better) / (tied + 1), 0.0, 1.0)
            out[prefix + name] = float(hit.mean() * 100)
        elif name == 'MdR':
            out[prefix + name] = float(np.median(better + tied / 2) + 1)
        elif name == 'MnR':
            out[prefix + name] = float(np.mean(better + tied / 2) + 1)
    return out
