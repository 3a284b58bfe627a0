"""Temporal grounding recall: R@n, IoU=m and mean IoU (2D-TAN's definition).

For each query the model returns its segments best first, after NMS. ``R@n,
IoU=m`` is the fraction of queries whose first ``n`` segments include one
whose IoU with the ground truth is *strictly* greater than ``m``; ``mIoU``
is the mean IoU of the first segment. A query with fewer than ``n``
segments counts what it has.

mmaction2's ``RecallatTopK`` (for DRN) takes one IoU threshold per metric
instance, reports no mean IoU and expects DRN's output format, so it is not
used here.
"""
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric

from ...models.grounding.temporal import temporal_iou
from ...registry import METRICS

__all__ = ['TemporalGroundingMetric', 'grounding_recall']


def grounding_recall(predictions: Sequence[np.ndarray],
                     ground_truths: np.ndarray,
                     recalls: Sequence[int] = (1, 5),
                     iou_thresholds: Sequence[float] = (0.5, 0.7)
                     ) -> Dict[str, float]:
    """R@n,IoU=m (in %) and mIoU (in %) over queries.

    Args:
        predictions: per query, ``(K, 2)`` segments best first (K >= 1).
        ground_truths: ``(Q, 2)``.
        recalls, iou_thresholds: the ``n`` and ``m`` values.

    Returns:
        ``{'R1@IoU0.5': ..., ..., 'mIoU': ...}``.
    """
    gts = np.asarray(ground_truths, dtype=np.float64).reshape(-1, 2)
    if len(predictions) != len(gts) or not len(gts):
        raise ValueError(f'{len(predictions)} predictions for {len(gts)} '
                         'ground truths')
    width = max(recalls)
    # (Q, width) IoUs, -1 where a query has fewer segments
    ious = np.full((len(gts), width), -1.0)
    for q, (pred, gt) in enumerate(zip(predictions, gts)):
        pred = np.asarray(pred, dtype=np.float64).reshape(-1, 2)[:width]
        if not len(pred):
            raise ValueError(f'query {q} has no predicted segment')
        ious[q, :len(pred)] = temporal_iou(pred, gt[None])
    out = {}
    for n in recalls:
        best = ious[:, :n].max(axis=1)
        for m in iou_thresholds:
            out[f'R{n}@IoU{m:g}'] = float((best > m).mean() * 100)
    out['mIoU'] = float(ious[:, 0].mean() * 100)
    return out


@METRICS.register_module()
class TemporalGroundingMetric(BaseMetric):
    """R@n, IoU=m for every ``n`` in ``recalls`` and ``m`` in
    ``iou_thresholds`` (in %), plus ``mIoU`` of the top-1 segment.

    Reads ``pred_segments`` ``(K, 2)`` (best first, after NMS) and the
    metainfo ``gt_times`` of each data sample (:class:`~simvtp.models.
    TAN2D` writes the former, the grounding datasets the latter).

    Args:
        recalls: e.g. ``(1, 5)``.
        iou_thresholds: 2D-TAN reports ``(0.5, 0.7)`` on Charades-STA and
            ActivityNet, ``(0.3, 0.5)`` (also 0.1, 0.7) on TACoS.
    """
    default_prefix = 'grounding'

    def __init__(self, recalls: Sequence[int] = (1, 5),
                 iou_thresholds: Sequence[float] = (0.5, 0.7),
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if not recalls or min(recalls) < 1:
            raise ValueError(f'recalls must be >= 1, got {list(recalls)}')
        if not iou_thresholds or not all(0 <= m < 1 for m in iou_thresholds):
            raise ValueError(f'iou_thresholds must be in [0, 1), got '
                             f'{list(iou_thresholds)}')
        self.recalls = tuple(int(n) for n in recalls)
        self.iou_thresholds = tuple(float(m) for m in iou_thresholds)

    def process(self, data_batch, data_samples: Sequence) -> None:
        for sample in data_samples:
            get = sample.get if isinstance(sample, dict) else \
                lambda k, s=sample: getattr(s, k, None)
            pred = get('pred_segments')
            if hasattr(pred, 'detach'):
                pred = pred.detach().cpu().numpy()
            self.results.append(dict(pred=np.asarray(pred, np.float64),
                                     gt=np.asarray(get('gt_times'),
                                                   np.float64)))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        metrics = grounding_recall([r['pred'] for r in results],
                                   np.stack([r['gt'] for r in results]),
                                   self.recalls, self.iou_thresholds)
        metrics['num_queries'] = len(results)
        return metrics
