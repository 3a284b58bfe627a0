"""Gather/scatter helpers for masked token sequences.

Masks are boolean ``(B, N)`` tensors with ``True`` = hidden (masked) token,
the VideoMAE convention. All helpers keep tokens in ascending token index
and use boolean indexing + reshape (no Python loops over the batch), which
requires every sample to hide the same number of tokens.
"""
from typing import Optional

import torch

__all__ = ['num_visible', 'num_masked', 'visible_index', 'gather_visible',
           'gather_masked',
           'merge_tokens']


def _check_mask(tokens: torch.Tensor, mask: torch.Tensor) -> None:
    if mask.dtype != torch.bool:
        raise TypeError(f'mask must be a bool tensor, got {mask.dtype}')
    if mask.dim() != 2:
        raise ValueError(f'mask must be (B, N), got {tuple(mask.shape)}')
    if tokens is not None and tuple(tokens.shape[:2]) != tuple(mask.shape):
        raise ValueError(f'tokens {tuple(tokens.shape)} and mask '
                         f'{tuple(mask.shape)} disagree on (B, N)')


def _common_count(select: torch.Tensor, what: str) -> int:
    """Number of ``True`` per row of ``select`` (B, N); must be equal."""
    counts = select.sum(dim=1)
    if counts.numel() == 0:
        return 0
    lo, hi = int(counts.min()), int(counts.max())
    if lo != hi:
        raise ValueError(
            f'every sample must have the same number of {what} tokens, got '
            f'counts between {lo} and {hi}: {counts.tolist()}')
    return lo


def num_visible(mask: torch.Tensor) -> int:
    """Visible tokens per sample of a ``(B, N)`` bool mask (True = hidden).

    Raises ValueError if the samples disagree.
    """
    _check_mask(None, mask)
    return _common_count(~mask, 'visible')


def num_masked(mask: torch.Tensor) -> int:
    """Hidden tokens per sample of a ``(B, N)`` bool mask (True = hidden).

    Raises ValueError if the samples disagree.
    """
    _check_mask(None, mask)
    return _common_count(mask, 'masked')


def visible_index(mask: torch.Tensor,
                  num_visible: Optional[int] = None) -> torch.Tensor:
    """Indices of the visible tokens, ``(B, N_vis)`` long, ascending.

    ``torch.gather(tokens, 1, idx[..., None].expand(-1, -1, D))`` then equals
    :func:`gather_visible`. Without ``num_visible`` the count is read from
    the mask (a host sync, like :func:`gather_visible`); with it (e.g. known
    from a shape), nothing waits for the device: the per-sample count is
    checked by an asynchronous device assertion.

    Args:
        mask (torch.Tensor): ``(B, N)`` bool, True = hidden.
        num_visible (int, optional): visible tokens per sample.
    """
    _check_mask(None, mask)
    if num_visible is None:
        num_visible = _common_count(~mask, 'visible')
    else:
        torch._assert_async(((~mask).sum(dim=1) == num_visible).all(),
                            f'every sample must have {num_visible} visible '
                            f'tokens')
    # a stable sort of 0 (visible) / 1 (hidden) keeps the token order
    order = torch.argsort(mask.to(torch.uint8), dim=1, stable=True)
    return order[:, :num_visible]


def _gather(tokens: torch.Tensor, select: torch.Tensor,
            what: str) -> torch.Tensor:
    count = _common_count(select, what)
    batch = tokens.shape[0]
    return tokens[select].reshape(batch, count, *tokens.shape[2:])


def gather_visible(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Keep the visible tokens.

    Args:
        tokens (torch.Tensor): ``(B, N, D)`` (any trailing dims).
        mask (torch.Tensor): ``(B, N)`` bool, True = hidden.

    Returns:
        torch.Tensor: ``(B, N_vis, D)`` in ascending token index.
    """
    _check_mask(tokens, mask)
    return _gather(tokens, ~mask, 'visible')


def gather_masked(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Keep the hidden tokens.

    Args:
        tokens (torch.Tensor): ``(B, N, D)`` (any trailing dims).
        mask (torch.Tensor): ``(B, N)`` bool, True = hidden.

    Returns:
        torch.Tensor: ``(B, N_mask, D)`` in ascending token index.
    """
    _check_mask(tokens, mask)
    return _gather(tokens, mask, 'masked')


def merge_tokens(visible: torch.Tensor, hidden: torch.Tensor,
                 mask: torch.Tensor) -> torch.Tensor:
    """Scatter visible and hidden tokens back to their original positions.

    Inverse of :func:`gather_visible` / :func:`gather_masked`.

    Args:
        visible (torch.Tensor): ``(B, N_vis, D)``, ascending token index.
        hidden (torch.Tensor): ``(B, N_mask, D)``, ascending token index.
        mask (torch.Tensor): ``(B, N)`` bool, True = hidden.

    Returns:
        torch.Tensor: ``(B, N, D)`` with ``out[~mask] = visible`` and
        ``out[mask] = hidden``.
    """
    _check_mask(None, mask)
    batch, n = mask.shape
    if visible.shape[0] != batch or hidden.shape[0] != batch or \
            visible.shape[1] + hidden.shape[1] != n:
        raise ValueError(f'visible {tuple(visible.shape)} + hidden '
                         f'{tuple(hidden.shape)} do not fill mask '
                         f'{tuple(mask.shape)}')
    out = visible.new_empty(batch, n, *visible.shape[2:])
    out[~mask] = visible.reshape(-1, *visible.shape[2:]).to(out.dtype)
    out[mask] = hidden.reshape(-1, *hidden.shape[2:]).to(out.dtype)
    return out
