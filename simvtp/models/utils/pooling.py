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


#: poolings of a joint ``[video ; text]`` pass (:func:`pool_joint`)
JOINT_POOLINGS = ('mean', 'mean_with_padding', 'text', 'video_text')


def pool_joint(video_out: torch.Tensor, text_out: torch.Tensor,
               text_valid: Optional[torch.Tensor],
               pooling: str = 'mean') -> torch.Tensor:
    """Pool the outputs of a joint ``[video ; text]`` encoder pass.

    Args:
        video_out: ``(B, N, D)`` video token outputs.
        text_out: ``(B, L, D)`` text token outputs.
        text_valid: ``(B, L)`` 1 = real token (0: padding, or words hidden
            from attention), or None (all real).
        pooling: ``'mean'``: the mean over video and real text tokens
            (SimVTP's VTM pooling); ``'mean_with_padding'``: over all tokens
            (the reference's); ``'text'``: the mean of the real text tokens
            only (they attended to the clip; a few words are not outweighed
            by hundreds of video tokens); ``'video_text'``: the video mean
            and the text mean concatenated.

    Returns:
        ``(B, D)``, ``(B, 2D)`` for ``'video_text'``.
    """
    if pooling not in JOINT_POOLINGS:
        raise ValueError(f'pooling must be one of {JOINT_POOLINGS}, got '
                         f'{pooling!r}')
    if pooling in ('text', 'video_text'):
        text = masked_mean(text_out, text_valid)
        if pooling == 'text':
            return text
        return torch.cat([video_out.mean(1), text], dim=1)
    tokens = torch.cat([video_out, text_out], dim=1)
    if pooling == 'mean_with_padding' or text_valid is None:
        return masked_mean(tokens)
    valid = torch.cat([text_valid.new_ones(video_out.shape[:2]), text_valid],
                      dim=1)
    return masked_mean(tokens, valid)


def encode_joint(encoder, video_tokens: torch.Tensor,
                 text_tokens: torch.Tensor, text_valid: Optional[torch.Tensor],
                 pooling: str = 'mean') -> torch.Tensor:
    """A joint ``[video ; text]`` pass of a ``UnifiedViT``, pooled by
    :func:`pool_joint`: ``(B, N, D)`` embedded video and ``(B, L, D)``
    embedded text (``text_valid`` ``(B, L)``: its key mask) -> ``(B, D)``.

    ``'text'`` pooling reads only the caption's outputs, so the encoder's
    last block computes them alone (``text_outputs_only``);
    ``'mean_with_padding'`` reads the padded positions, so they are
    computed (no ``skip_padding``).
    """
    video_out, text_out = encoder.encode(
        video_tokens, text_tokens, text_valid,
        skip_padding=False if pooling == 'mean_with_padding' else None,
        text_outputs_only=pooling == 'text')
    return pool_joint(video_out, text_out, text_valid, pooling)


def pool_video(encoder, video: torch.Tensor,
               video_pool: Optional[torch.nn.Module] = None) -> torch.Tensor:
    """Video-only pass of a ``UnifiedViT`` over all tubes, pooled.

    Args:
        encoder: a ``UnifiedViT``.
        video: ``(B, C, T, H, W)`` normalised clips.
        video_pool: None (the mean of the tokens) or a module called as
            ``video_pool(tokens, encoder.token_grid(video))``, e.g. a
            ``GridPoolProjection``.

    Returns:
        ``(B, D)`` (``video_pool``'s width): ``encode(embed_video(video))``
        averaged over its ``T' * H' * W'`` tokens, or pooled by
        ``video_pool`` (gradients flow; wrap in ``no_grad`` to extract).
    """
    tokens, _ = encoder.encode(encoder.embed_video(video), None, None)
    if video_pool is None:
        return tokens.mean(dim=1)
    return video_pool(tokens, encoder.token_grid(video))


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
