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
* ``'time_featmap'``: the mean over space per time step, the ``T'`` vectors
  concatenated in time order ``(B, T' * C)``: a pooled feature that still
  says *when* something happened (a linear head can tell "moves left" from
  "moves right", which the mean over all tokens blurs), for
  ``TimeSformerHead(in_channels=T' * C)``. The post-pool norm, if any,
  normalises each time step's ``C`` channels.

``'tuple'`` (the pre-training output, ``(video, text)``) is handled by the
encoder itself.
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn

__all__ = ['VIDEO_OUT_TYPES', 'OUT_TYPES', 'format_video_tokens',
           'tokens_to_featmap']

# outputs computed from the video tokens alone
VIDEO_OUT_TYPES: Tuple[str, ...] = ('raw', 'featmap', 'avg_featmap',
                                    'time_featmap')
OUT_TYPES: Tuple[str, ...] = ('tuple', ) + VIDEO_OUT_TYPES
# outputs that end in a pooled vector (where a post-pool norm applies)
POOLED_OUT_TYPES: Tuple[str, ...] = ('avg_featmap', 'time_featmap')


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
                        pooled_norm: Optional[nn.Module] = None
                        ) -> torch.Tensor:
    """Turn encoded video tokens into the requested output.

    Args:
        tokens (torch.Tensor): ``(B, N, C)``, ``N = T' * H' * W'``, ordered
            ``(t', h', w')``.
        grid (tuple): ``(T', H', W')``.
        out_type (str): one of :data:`VIDEO_OUT_TYPES`.
        pooled_norm (nn.Module, optional): applied to each pooled ``C``
            vector (``'avg_featmap'``, ``'time_featmap'``).

    Returns:
        torch.Tensor: ``(B, N, C)``, ``(B, C, T', H', W')``, ``(B, C)`` or
        ``(B, T' * C)`` (see the module docstring).
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
    per_time = featmap.mean(dim=(3, 4)).transpose(1, 2)  # (B, T', C)
    return norm(per_time).flatten(1)
