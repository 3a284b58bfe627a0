"""The moment-prior baseline of temporal grounding: ignore video and query.

Every training query's segment is normalised by its video's duration and
snapped to the proposal of an ``N``-clip 2D map that overlaps it most
(2D-TAN's training target cell). The baseline predicts, for every test
query, the most frequent such proposal (for R@n: the most frequent ones,
after the same NMS as the model), scaled to the test video's duration. A
grounding model that does not beat it has learned the dataset's timing
statistics, not the videos.
"""
from collections import Counter
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch

from ..models.grounding.temporal import nms_1d, proposal_times, temporal_iou
from .metrics.grounding_metric import grounding_recall

__all__ = ['moment_prior', 'prior_baseline']


def moment_prior(segments: np.ndarray, durations: np.ndarray,
                 num_clips: int, mask: Optional[torch.Tensor] = None
                 ) -> Sequence[Tuple[Tuple[int, int], int]]:
    """Map cells ``((i, j), count)`` by decreasing training frequency.

    Args:
        segments: ``(Q, 2)`` training segments in seconds.
        durations: ``(Q,)`` their videos' durations.
        num_clips: ``N``.
        mask: ``(N, N)`` bool proposals (default: every ``i <= j``).
    """
    if mask is None:
        mask = torch.ones(num_clips, num_clips, dtype=torch.bool).triu()
    cells = mask.nonzero().numpy()
    unit = proposal_times(num_clips, 1.0).numpy()[cells[:, 0], cells[:, 1]]
    normalised = np.asarray(segments, np.float64) / np.asarray(
        durations, np.float64)[:, None]
    ious = temporal_iou(unit[None], normalised[:, None])  # (Q, P)
    best = ious.argmax(axis=1)
    counts = Counter(best.tolist())
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [((int(cells[p, 0]), int(cells[p, 1])), n) for p, n in ranked]


def prior_baseline(train_segments: np.ndarray, train_durations: np.ndarray,
                   test_segments: np.ndarray, test_durations: np.ndarray,
                   num_clips: int, mask: Optional[torch.Tensor] = None,
                   recalls: Sequence[int] = (1, 5),
                   iou_thresholds: Sequence[float] = (0.5, 0.7),
                   nms_thresh: float = 0.5) -> Dict[str, object]:
    """R@n,IoU=m and mIoU (in %) of the moment prior on the test queries.

    Returns:
        The metrics plus ``prior``: the top-1 normalised segment.
    """
    ranked = moment_prior(train_segments, train_durations, num_clips, mask)
    unit = proposal_times(num_clips, 1.0).numpy()
    segments = np.stack([unit[i, j] for (i, j), _ in ranked])
    keep = nms_1d(segments, nms_thresh, max(recalls))
    prior = segments[keep]  # normalised, best first
    predictions = [prior * d for d in np.asarray(test_durations, float)]
    metrics = grounding_recall(predictions, test_segments, recalls,
                               iou_thresholds)
    metrics['prior'] = [float(v) for v in prior[0]]
    return metrics
