"""Running transformer blocks on the real tokens of a padded batch only.

Captions of one batch differ in length; padded positions cost projections
and MLPs although nothing reads their outputs. :func:`run_blocks_packed`
keeps the ``M`` real tokens as an ``(M, D)`` matrix: norms, the q/k/v and
output projections and the MLPs run on it; only attention sees the padded
``(B, S)`` layout (padded queries are zeros, padded keys are masked). Each
real token's output equals :func:`~.transformer.run_blocks`'s up to
rounding. It reuses the pieces of :class:`~.transformer.Block` and
:class:`~.transformer.Attention`; stochastic depth drops whole samples as
there.
"""
from typing import Optional, Sequence

import torch
import torch.nn as nn
from timm.layers import DropPath
from torch.utils.checkpoint import checkpoint

__all__ = ['run_blocks_packed']


def _attention(block: nn.Module, x: torch.Tensor, index: torch.Tensor,
               batch: int, seq: int,
               key_padding_mask: torch.Tensor) -> torch.Tensor:
    """``block.attn`` on ``(M, D)`` real tokens at flat positions
    ``index`` of a ``(batch, seq)`` layout -> ``(M, D)``."""
    attn = block.attn
    qkv = attn.project(x)
    padded = qkv.new_zeros(batch * seq, qkv.shape[-1])
    padded = padded.index_copy(0, index, qkv).view(batch, seq, -1)
    out = attn.attend(padded, key_padding_mask)
    return attn.output(out.reshape(batch * seq, -1).index_select(0, index))


def _block(block: nn.Module, x: torch.Tensor, index: torch.Tensor,
           batch: int, seq: int, key_padding_mask: torch.Tensor
           ) -> torch.Tensor:
    """:meth:`Block.forward` on ``(M, D)`` real tokens."""
    keep = None
    drop = block.drop_path
    if isinstance(drop, DropPath) and block.training and drop.drop_prob > 0:
        # one draw per sample, as DropPath does on the padded layout
        rate = 1.0 - drop.drop_prob
        rows = torch.div(index, seq, rounding_mode='floor')
        keep = (x.new_empty(batch, 1).bernoulli_(rate) / rate)[rows]
    out = _attention(block, block.norm1(x), index, batch, seq,
                     key_padding_mask)
    x = x + (out if keep is None else out * keep)
    out = block.mlp(block.norm2(x))
    return x + (out if keep is None else out * keep)


def run_blocks_packed(blocks: Sequence[nn.Module],
                      x: torch.Tensor,
                      key_padding_mask: torch.Tensor,
                      with_cp: bool = False,
                      norm: Optional[nn.Module] = None) -> torch.Tensor:
    """:func:`~.transformer.run_blocks` that computes only the real tokens.

    Args:
        blocks: Iterable of :class:`~.transformer.Block`.
        x (torch.Tensor): ``(B, S, D)``.
        key_padding_mask (torch.Tensor): ``(B, S)`` bool, True = real token.
        with_cp (bool): Checkpoint each block (training, autograd on).
        norm (nn.Module, optional): applied to the real tokens after the
            blocks (e.g. the encoder's final LayerNorm).

    Returns:
        torch.Tensor: ``(B, S, D)``; padded positions are zeros instead of
        values no one should read (they attend but are never attended to).
        Finding the real tokens reads their count on the host.
    """
    batch, seq, dim = x.shape
    index = key_padding_mask.reshape(-1).nonzero().squeeze(1)
    y = x.reshape(batch * seq, dim).index_select(0, index)
    for blk in blocks:
        if with_cp and blk.training and torch.is_grad_enabled():
            y = checkpoint(_block, blk, y, index, batch, seq,
                           key_padding_mask, use_reentrant=False)
        else:
            y = _block(blk, y, index, batch, seq, key_padding_mask)
    if norm is not None:
        y = norm(y)
    out = y.new_zeros(batch * seq, dim).index_copy(0, index, y)
    return out.view(batch, seq, dim)
