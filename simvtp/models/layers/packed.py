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


def _drop_path_keep(block: nn.Module, x: torch.Tensor, rows: torch.Tensor,
                    batch: int) -> Optional[torch.Tensor]:
    """Per-token stochastic-depth factors ``(M, 1)`` (one draw per sample,
    as DropPath on the padded layout), or None when nothing is dropped."""
    drop = block.drop_path
    if isinstance(drop, DropPath) and block.training and drop.drop_prob > 0:
        rate = 1.0 - drop.drop_prob
        return (x.new_empty(batch, 1).bernoulli_(rate) / rate)[rows]
    return None


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
    keep = _drop_path_keep(block, x, torch.div(index, seq,
                                               rounding_mode='floor'), batch)
    out = _attention(block, block.norm1(x), index, batch, seq,
                     key_padding_mask)
    x = x + (out if keep is None else out * keep)
    out = block.mlp(block.norm2(x))
    return x + (out if keep is None else out * keep)


def _block_queries(block: nn.Module, x: torch.Tensor, index: torch.Tensor,
                   batch: int, seq: int, key_padding_mask: torch.Tensor,
                   rows: torch.Tensor, q_index: torch.Tensor,
                   num_q: int) -> torch.Tensor:
    """:meth:`Block.forward_queries` on packed tokens: ``(M, D)`` real
    tokens -> ``(M_q, D)`` outputs of the rows ``rows`` of ``x``, which sit
    at flat positions ``q_index`` of a ``(batch, num_q)`` query layout."""
    attn = block.attn
    keep = _drop_path_keep(block, x, torch.div(
        q_index, num_q, rounding_mode='floor'), batch)
    h = block.norm1(x)
    kv = attn.project_keys_values(h)
    kv = kv.new_zeros(batch * seq, kv.shape[-1]).index_copy(
        0, index, kv).view(batch, seq, -1)
    q = attn.project_queries(h.index_select(0, rows))
    q = q.new_zeros(batch * num_q, q.shape[-1]).index_copy(
        0, q_index, q).view(batch, num_q, -1)
    out = attn.attend_queries(q, kv, key_padding_mask)
    out = attn.output(out.reshape(batch * num_q, -1).index_select(0, q_index))
    y = x.index_select(0, rows) + (out if keep is None else out * keep)
    out = block.mlp(block.norm2(y))
    return y + (out if keep is None else out * keep)


def run_blocks_packed(blocks: Sequence[nn.Module],
                      x: torch.Tensor,
                      key_padding_mask: torch.Tensor,
                      with_cp: bool = False,
                      norm: Optional[nn.Module] = None,
                      query_start: Optional[int] = None) -> torch.Tensor:
    """:func:`~.transformer.run_blocks` that computes only the real tokens.

    Args:
        blocks: Iterable of :class:`~.transformer.Block`.
        x (torch.Tensor): ``(B, S, D)``.
        key_padding_mask (torch.Tensor): ``(B, S)`` bool, True = real token.
        with_cp (bool): Checkpoint each block (training, autograd on).
        norm (nn.Module, optional): applied to the real tokens after the
            blocks (e.g. the encoder's final LayerNorm).
        query_start (int, optional): return only the positions
            ``query_start:``; the last block computes only their outputs
            (the others are its keys and values).

    Returns:
        torch.Tensor: ``(B, S, D)`` (``(B, S - query_start, D)``); padded
        positions are zeros instead of values no one should read (they
        attend but are never attended to). Finding the real tokens reads
        their count on the host.
    """
    num_blocks = len(blocks)
    if query_start is not None and not num_blocks:  # no block to cut
        return run_blocks_packed(blocks, x, key_padding_mask, with_cp,
                                 norm)[:, query_start:]
    batch, seq, dim = x.shape
    index = key_padding_mask.reshape(-1).nonzero().squeeze(1)
    y = x.reshape(batch * seq, dim).index_select(0, index)
    if query_start is not None:
        position = index % seq
        rows = (position >= query_start).nonzero().squeeze(1)
        num_q = seq - query_start
        q_index = torch.div(index[rows], seq, rounding_mode='floor') * \
            num_q + position[rows] - query_start
    for i, blk in enumerate(blocks):
        cp = with_cp and blk.training and torch.is_grad_enabled()
        if query_start is not None and i == num_blocks - 1:
            fn, args = _block_queries, (blk, y, index, batch, seq,
                                        key_padding_mask, rows, q_index,
                                        num_q)
        else:
            fn, args = _block, (blk, y, index, batch, seq, key_padding_mask)
        y = checkpoint(fn, *args, use_reentrant=False) if cp else fn(*args)
    if query_start is not None:
        batch_seq, index = batch * num_q, q_index
    else:
        batch_seq = batch * seq
    if norm is not None:
        y = norm(y)
    out = y.new_zeros(batch_seq, dim).index_copy(0, index, y)
    return out.view(batch, -1, dim)
