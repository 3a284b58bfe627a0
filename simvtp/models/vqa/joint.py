"""The joint ``[video ; text]`` pass that video-QA models pool."""
from typing import Optional, Sequence

import torch

from ..utils.pooling import JOINT_POOLINGS as POOLINGS
from ..utils.pooling import encode_joint


def pooled_dims(pooling: str, embed_dims: int) -> int:
    """Width of :func:`joint_features` under ``pooling``."""
    return 2 * embed_dims if pooling == 'video_text' else embed_dims


def embed_clip(backbone, inputs: dict) -> torch.Tensor:
    """Embedded clip tokens ``(B, N_vis, D)``: only the visible tubes when
    the inputs carry a ``video_mask`` (``TubeMasking`` in a training
    pipeline: the regime the VTM head was pre-trained in, and several times
    cheaper), every tube otherwise."""
    if 'video_mask' in inputs:
        return backbone.embed_video_visible(
            inputs['video'], inputs['video_mask'], inputs.get('num_visible'))
    return backbone.embed_video(inputs['video'])


def joint_features(backbone, video_tokens: torch.Tensor,
                   text_ids: torch.Tensor,
                   text_mask: Optional[torch.Tensor],
                   counts: Optional[Sequence[int]] = None,
                   pooling: str = 'mean') -> torch.Tensor:
    """Pooled joint encodings of each text row with its clip.

    The video is embedded once per clip; ``counts`` repeats clip ``b``'s
    tokens for its ``counts[b]`` text rows (the options of one question),
    and all pairs go through the encoder as one batch. Pooling:

    - ``'mean'``: pre-training's VTM pooling, the mean over video and text
      tokens, excluding text padding (``'mean_with_padding'``: including it);
    - ``'text'``: the mean of the text tokens only (they attended to the
      clip). Under ``'mean'`` a question of ~10 words is outweighed by
      64-256 video tokens; a classifier trained on the synthetic QA data
      with it mixed up the question types (colour answers to motion
      questions);
    - ``'video_text'``: the video mean and the text mean concatenated,
      ``(R, 2D)``.

    Args:
        backbone: a :class:`~simvtp.models.backbones.UnifiedViT`.
        video_tokens: ``(B, N, D)`` embedded clip tokens.
        text_ids: ``(R, L)`` token ids, ``R = sum(counts)`` (``B`` without
            counts).
        text_mask: ``(R, L)`` 1 = real token, or None.
        counts: text rows per clip, or None for one each.
        pooling: one of :data:`POOLINGS`.

    Returns:
        ``(R, D)`` (``(R, 2D)`` for ``'video_text'``).
    """
    if counts is not None:
        if len(counts) != video_tokens.shape[0] or \
                sum(counts) != text_ids.shape[0]:
            raise ValueError(f'counts {list(counts)} do not match '
                             f'{video_tokens.shape[0]} clips and '
                             f'{text_ids.shape[0]} text rows')
        repeats = torch.as_tensor(list(counts), device=video_tokens.device)
        video_tokens = video_tokens.repeat_interleave(
            repeats, dim=0, output_size=int(sum(counts)))
    return encode_joint(backbone, video_tokens, backbone.embed_text(text_ids),
                        text_mask, pooling)
