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


def pool_video(encoder, video: torch.Tensor) -> torch.Tensor:
    """Video-only pass of a ``UnifiedViT`` over all tubes, mean-pooled.

    Args:
        encoder: a ``UnifiedViT``.
        video: ``(B, C, T, H, W)`` normalised clips.

    Returns:
        ``(B, D)``: ``encode(embed_video(video))`` averaged over its
        ``T' * H' * W'`` tokens (gradients flow; wrap in ``no_grad`` to
        extract).
    """
    tokens, _ = encoder.encode(encoder.embed_video(video), None, None)
    return tokens.mean(dim=1)


def pool_text(encoder, input_ids: torch.Tensor,
              attention_mask: Optional[torch.Tensor],
              with_padding: bool = False) -> torch.Tensor:
    """Text-only pass of a ``UnifiedViT``, mean-pooled.

    Args:
        encoder: a ``UnifiedViT``.
        input_ids: ``(B, L)`` token ids.
        attention_mask: ``(B, L)`` 1 = real token (padding keys are ignored
            by attention); None = no padding.
        with_padding: average the padded positions too (the reference's
            pooling; padded outputs are then computed, not skipped).

    Returns:
        ``(B, D)``.
    """
    _, tokens = encoder.encode(None, encoder.embed_text(input_ids),
                               attention_mask,
                               skip_padding=False if with_padding else None)
    return masked_mean(tokens, None if with_padding else attention_mask)
