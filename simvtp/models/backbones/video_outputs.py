"""What a video encoder hands to a classification head.

The ``out_type`` vocabulary of mmpretrain's ``VisionTransformer`` applied to
video tokens, so that :class:`~.unified_vit.UnifiedViT` plugs into mmaction2's
``Recognizer3D`` heads without glue:

* ``'raw'``: the encoder's tokens ``(B, N, C)``, ``N = T' * H' * W'``
  ordered ``(t', h', w')``;
* ``'featmap'``: the same tokens as a map ``(B, C, T', H', W')`` (what
  mmaction2's ``I3DHead`` pools, and vit_mae's ``return_feat_map=True``);
* ``'avg_featmap'``: the mean over all tokens ``(B, C)``, then an optional
  post-pool norm (vit_mae's ``fc_norm``), for ``TimeSformerHead``;
* ``'grid_featmap'``: the token map average-pooled to a coarse grid
  ``pool_grid = (t, h, w)`` (adaptive pooling; ``None`` keeps that axis of
  the token grid), the cells' ``C`` vectors concatenated in ``(t, h, w)``
  order ``(B, t*h*w*C)``: a pooled feature that still says *when* and
  roughly *where* something happened (a linear head can tell "moves left"
  from "moves right", which the mean over all tokens blurs), for
  ``TimeSformerHead(in_channels=t*h*w*C)``. ``(None, 1, 1)`` is one mean per
  time step. The post-pool norm, if any, normalises each cell's ``C``
  channels.

``'tuple'`` (the pre-training output, ``(video, text)``) is handled by the
encoder itself.
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ['VIDEO_OUT_TYPES', 'OUT_TYPES', 'format_video_tokens',
           'tokens_to_featmap']

# outputs computed from the video tokens alone
VIDEO_OUT_TYPES: Tuple[str, ...] = ('raw', 'featmap', 'avg_featmap',
                                    'grid_featmap')
OUT_TYPES: Tuple[str, ...] = ('tuple', ) + VIDEO_OUT_TYPES
# outputs that end in a pooled vector (where a post-pool norm applies)
POOLED_OUT_TYPES: Tuple[str, ...] = ('avg_featmap', 'grid_featmap')
PoolGrid = Tuple[Optional[int], Optional[int], Optional[int]]


def tokens_to_featmap(tokens: torch.Tensor,
                      grid: Tuple[int, int, int]) -> torch.Tensor:
    """``(B, T'*H'*W', C)`` tokens in ``(t', h', w')`` order ->
    ``(B, C, T', H', W')``."""
    batch, num, dims = tokens.shape
    if num != grid[0] * grid[1] * grid[2]:
        raise ValueError(f'{num} tokens do not fill the grid {tuple(grid)}')
    return tokens.reshape(batch, *grid, dims).permute(0, 4, 1, 2, 3)


def format_video_tokens(tokens: torch.Tensor,
                        grid: Tuple[int, int, int],
                        out_type: str,
                        pooled_norm: Optional[nn.Module] = None,
                        pool_grid: PoolGrid = (None, 1, 1)
                        ) -> torch.Tensor:
    """Turn encoded video tokens into the requested output.

    Args:
        tokens (torch.Tensor): ``(B, N, C)``, ``N = T' * H' * W'``, ordered
            ``(t', h', w')``.
        grid (tuple): ``(T', H', W')``.
        out_type (str): one of :data:`VIDEO_OUT_TYPES`.
        pooled_norm (nn.Module, optional): applied to each pooled ``C``
            vector (``'avg_featmap'``, ``'grid_featmap'``).
        pool_grid (tuple): ``(t, h, w)`` cells of ``'grid_featmap'``; None
            keeps the token grid's size on that axis.

    Returns:
        torch.Tensor: ``(B, N, C)``, ``(B, C, T', H', W')``, ``(B, C)`` or
        ``(B, t*h*w*C)`` (see the module docstring).
    """
    if out_type == 'raw':
        return tokens
    if out_type not in VIDEO_OUT_TYPES:
        raise ValueError(f'unknown out_type {out_type!r}; choose one of '
                         f'{VIDEO_OUT_TYPES}')
    featmap = tokens_to_featmap(tokens, grid)
    if out_type == 'featmap':
        return featmap
    norm = pooled_norm if pooled_norm is not None else nn.Identity()
    if out_type == 'avg_featmap':
        return norm(tokens.mean(dim=1))
    size = tuple(g if p is None else p for p, g in zip(pool_grid, grid))
    cells = F.adaptive_avg_pool3d(featmap, size)  # (B, C, t, h, w)
    cells = cells.flatten(2).transpose(1, 2)  # (B, t*h*w, C)
    return norm(cells).flatten(1)
