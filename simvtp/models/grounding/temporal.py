"""Temporal segments on the 2D proposal map: times, IoU, NMS.

A map over ``N`` clips of a video of ``duration`` seconds indexes proposal
``(i, j)``, ``i <= j``, as the segment ``[i * duration / N, (j + 1) *
duration / N]`` (2D-TAN's convention).
"""
from typing import Union

import numpy as np
import torch

__all__ = ['proposal_times', 'temporal_iou', 'iou_map', 'nms_1d']

ArrayLike = Union[np.ndarray, torch.Tensor]


def proposal_times(num_clips: int, duration: ArrayLike) -> torch.Tensor:
    """Start and end of every map cell.

    Args:
        num_clips: ``N``.
        duration: scalar or ``(B,)`` seconds.

    Returns:
        ``(B, N, N, 2)`` (or ``(N, N, 2)`` for a scalar) float: cell
        ``(i, j)`` holds ``(i * d / N, (j + 1) * d / N)``; cells with
        ``i > j`` are not proposals (their values are meaningless).
    """
    d = torch.as_tensor(duration, dtype=torch.float32)
    scalar = d.dim() == 0
    d = d.reshape(-1, 1, 1)
    steps = torch.arange(num_clips, dtype=torch.float32, device=d.device)
    start = (steps[None, :, None] * d / num_clips).expand(-1, -1, num_clips)
    end = ((steps[None, None, :] + 1) * d / num_clips).expand(
        -1, num_clips, -1)
    times = torch.stack([start, end], dim=-1)
    return times[0] if scalar else times


def temporal_iou(a: ArrayLike, b: ArrayLike) -> ArrayLike:
    """IoU of segments ``a (..., 2)`` and ``b (..., 2)`` (broadcast).

    Disjoint segments give 0; a union of length 0 gives 0.
    """
    lib = torch if isinstance(a, torch.Tensor) else np
    inter = lib.clip(lib.minimum(a[..., 1], b[..., 1]) -
                     lib.maximum(a[..., 0], b[..., 0]), 0, None)
    union = lib.maximum(a[..., 1], b[..., 1]) - lib.minimum(a[..., 0],
                                                          b[..., 0])
    if lib is torch:
        return torch.where(union > 0, inter / union.clamp(min=1e-12),
                           torch.zeros_like(inter))
    with np.errstate(invalid='ignore', divide='ignore'):
        return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def iou_map(gt: torch.Tensor, duration: torch.Tensor,
            num_clips: int) -> torch.Tensor:
    """IoU of every proposal with the ground truth (2D-TAN's target).

    Args:
        gt: ``(B, 2)`` seconds.
        duration: ``(B,)`` seconds.
        num_clips: ``N``.

    Returns:
        ``(B, N, N)``; cells with ``i > j`` are 0.
    """
    times = proposal_times(num_clips, duration.float()).to(gt.device)
    iou = temporal_iou(times, gt.float()[:, None, None, :])
    return torch.triu(iou)


def nms_1d(segments: np.ndarray, thresh: float,
           top_k: int = -1) -> np.ndarray:
    """Greedy NMS over segments sorted by decreasing score.

    A segment is suppressed when its IoU with a kept one is strictly above
    ``thresh`` (2D-TAN keeps ``IoU <= thresh``).

    Args:
        segments: ``(M, 2)``, best first.
        thresh: IoU threshold.
        top_k: stop after this many kept segments (-1: all).

    Returns:
        Indices of the kept segments, in order.
    """
    segments = np.asarray(segments, dtype=np.float64)
    order = np.arange(len(segments))
    keep = []
    while order.size:
        i = order[0]
        keep.append(int(i))
        if len(keep) == top_k:
            break
        rest = order[1:]
        overlap = temporal_iou(segments[i][None], segments[rest])
        order = rest[overlap <= thresh]
    return np.asarray(keep, dtype=np.int64)
