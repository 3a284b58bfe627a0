"""Pooling helpers."""
from typing import Optional

import torch


def masked_mean(tokens: torch.Tensor,
                valid: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Mean of ``tokens`` over the sequence, excluding padding.

    Args:
        tokens: ``(B, S, D)``.
        valid: ``(B, S)`` bool or 0/1 (any numeric weights work) marking the
            tokens to average; None averages all ``S`` tokens.

    Returns:
        ``(B, D)``. A row without any valid token gives zeros.
    """
    if tokens.dim() != 3:
        raise ValueError(f'tokens must be (B, S, D), got {tuple(tokens.shape)}')
    if valid is None:
        return tokens.mean(dim=1)
    if valid.shape != tokens.shape[:2]:
        raise ValueError(f'valid must be (B, S) = {tuple(tokens.shape[:2])}, '
                         f'got {tuple(valid.shape)}')
    weights = valid.to(tokens.dtype).unsqueeze(-1)  # (B, S, 1)
    total = (tokens * weights).sum(dim=1)
    count = weights.sum(dim=1).clamp(min=1)
    return total / count
