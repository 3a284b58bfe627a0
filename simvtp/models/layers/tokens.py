"""Gather/scatter helpers for masked token sequences.

Masks are boolean ``(B, N)`` tensors with ``True`` = hidden (masked) token,
the VideoMAE convention. All helpers keep tokens in ascending token index
and require every sample to hide the same number of tokens. Given that number
(known on the host, e.g. from a shape or from the data preprocessor) they
gather by index and check the count with an asynchronous device assertion,
so nothing waits for the device; without it they read the count from the
mask (one device-to-host sync) and use boolean indexing.
"""
from typing import Optional

import torch

__all__ = ['num_visible', 'num_masked', 'visible_index', 'masked_index',
           'gather_visible', 'gather_masked', 'merge_tokens']


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


def _take(tokens: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``tokens`` (B, N, ...) rows at ``index`` (B, K) -> (B, K, ...)."""
    rows = torch.arange(tokens.shape[0], device=index.device)[:, None]
    return tokens[rows, index]


def masked_index(mask: torch.Tensor, num_masked: int) -> torch.Tensor:
    """Indices of the hidden tokens, ``(B, num_masked)`` long, ascending;
    the count is checked asynchronously (no host sync)."""
    _check_mask(None, mask)
    torch._assert_async((mask.sum(dim=1) == num_masked).all(),
                        f'every sample must have {num_masked} masked tokens')
    order = torch.argsort(mask.to(torch.uint8), dim=1, stable=True)
    return order[:, mask.shape[1] - num_masked:]


def gather_visible(tokens: torch.Tensor, mask: torch.Tensor,
                   num_visible: Optional[int] = None) -> torch.Tensor:
    """Keep the visible tokens.

    Args:
        tokens (torch.Tensor): ``(B, N, D)`` (any trailing dims).
        mask (torch.Tensor): ``(B, N)`` bool, True = hidden.
        num_visible (int, optional): visible tokens per sample; given, no
            host sync (see :func:`visible_index`).

    Returns:
        torch.Tensor: ``(B, N_vis, D)`` in ascending token index.
    """
    _check_mask(tokens, mask)
    if num_visible is not None:
        return _take(tokens, visible_index(mask, num_visible))
    return _gather(tokens, ~mask, 'visible')


def gather_masked(tokens: torch.Tensor, mask: torch.Tensor,
                  num_masked: Optional[int] = None) -> torch.Tensor:
    """Keep the hidden tokens.

    Args:
        tokens (torch.Tensor): ``(B, N, D)`` (any trailing dims).
        mask (torch.Tensor): ``(B, N)`` bool, True = hidden.
        num_masked (int, optional): hidden tokens per sample; given, no
            host sync.

    Returns:
        torch.Tensor: ``(B, N_mask, D)`` in ascending token index.
    """
    _check_mask(tokens, mask)
    if num_masked is not None:
        return _take(tokens, masked_index(mask, num_masked))
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
    # visible first, then hidden, each ascending: where each row goes
    torch._assert_async(((~mask).sum(dim=1) == visible.shape[1]).all(),
                        'mask and visible tokens disagree on the count')
    order = torch.argsort(mask.to(torch.uint8), dim=1, stable=True)
    rows = torch.cat([visible, hidden.to(visible.dtype)], dim=1)
    index = order.reshape(batch, n, *([1] * (rows.dim() - 2)))
    return torch.zeros_like(rows).scatter(1, index.expand_as(rows), rows)
