"""Word-to-video attention maps of the unified encoder (paper Figure 5).

The attention probabilities are recomputed from the chosen block's own
``qkv`` projection and biases on the input its attention module receives
(``norm1(x)``, captured with a forward pre-hook), exactly as the block's
attention computes them (``'math'``: additive -10000 key mask; ``'sdpa'``:
masked keys excluded). The model code is not changed.
"""
from contextlib import contextmanager
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .reconstruction import labelled_rows, to_uint8_frames

__all__ = ['find_word_positions', 'capture_attention_input',
           'attention_probabilities', 'word_to_video_attention',
           'upsample_heatmap', 'colormap', 'overlay_heatmap',
           'attention_figure']


def find_word_positions(tokenizer, input_ids, word: str) -> List[int]:
    """Positions of ``word``'s WordPiece tokens in ``input_ids`` (1-D).

    Every occurrence counts; a word split into several pieces contributes
    all of them.

    Raises:
        ValueError: naming the caption's tokens if ``word`` is not in it.
    """
    ids = [int(i) for i in (input_ids.tolist() if torch.is_tensor(input_ids)
                            else input_ids)]
    pieces = tokenizer(word, add_special_tokens=False)['input_ids']
    if not pieces:
        raise ValueError(f'{word!r} tokenizes to nothing')
    found = []
    for start in range(len(ids) - len(pieces) + 1):
        if ids[start:start + len(pieces)] == pieces:
            found.extend(range(start, start + len(pieces)))
    if not found:
        tokens = tokenizer.convert_ids_to_tokens(ids)
        raise ValueError(
            f'word {word!r} (tokens '
            f'{tokenizer.convert_ids_to_tokens(pieces)}) is not in the '
            f'tokenized caption {tokens}')
    return sorted(set(found))


@contextmanager
def capture_attention_input(block):
    """Record what ``block.attn`` receives: ``store['x']`` = ``norm1(x)``
    ``(B, S, D)`` and ``store['key_padding_mask']`` (or None)."""
    store: Dict[str, Optional[torch.Tensor]] = {}

    def hook(module, args, kwargs):
        store['x'] = args[0].detach()
        mask = args[1] if len(args) > 1 else kwargs.get('key_padding_mask')
        store['key_padding_mask'] = None if mask is None else mask.detach()

    handle = block.attn.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        yield store
    finally:
        handle.remove()


def attention_probabilities(attn, x: torch.Tensor,
                            key_padding_mask: Optional[torch.Tensor] = None
                            ) -> torch.Tensor:
    """Softmax attention of a simvtp ``Attention`` module on input ``x``.

    Returns:
        ``(B, heads, S, S)``; rows are queries, columns keys.
    """
    batch, seq, _ = x.shape
    qkv = attn.project(x)
    qkv = qkv.reshape(batch, seq, 3, attn.num_heads, attn.head_dim)
    q, k, _ = qkv.permute(2, 0, 3, 1, 4).unbind(0)
    scores = (q * attn.scale) @ k.transpose(-2, -1)
    if key_padding_mask is not None:
        keep = key_padding_mask.bool()[:, None, None, :]
        if attn.attn_impl == 'math':
            scores = scores + (~keep).to(scores.dtype) * -10000.0
        else:
            scores = scores.masked_fill(~keep, float('-inf'))
    return scores.softmax(dim=-1)


@torch.no_grad()
def word_to_video_attention(model, video: torch.Tensor,
                            input_ids: torch.Tensor,
                            attention_mask: Optional[torch.Tensor],
                            positions: Sequence[int], layer: int = -1
                            ) -> Tuple[torch.Tensor, Dict[str, float]]:
    """Attention from text positions to every video token.

    One joint pass of ``model.backbone`` over the full (unmasked) video and
    the caption; the probabilities of block ``layer`` are averaged over
    heads and over the query ``positions`` (indices into the caption).

    Args:
        model: a model with a ``UnifiedViT`` ``backbone``.
        video: ``(B, C, T, H, W)`` normalised clip.
        input_ids: ``(B, L)``; ``attention_mask``: ``(B, L)`` or None.
        positions: caption positions of the word.
        layer: block index (negative counts from the end).

    Returns:
        ``(heat (B, T', H', W'), info)``; ``heat`` holds the attention
        probabilities (not renormalised); ``info['video_share']`` is the mean
        share of the rows' attention that goes to video tokens, ``info
        ['layer']`` the resolved block index.
    """
    backbone = model.backbone
    depth = len(backbone.blocks)
    index = layer % depth if -depth <= layer < depth else None
    if index is None:
        raise ValueError(f'layer {layer} out of range for {depth} blocks')
    if not positions:
        raise ValueError('no query positions given')
    with capture_attention_input(backbone.blocks[index]) as store:
        video_out, _ = backbone(video=video, text_ids=input_ids,
                                text_attention_mask=attention_mask)
    probs = attention_probabilities(backbone.blocks[index].attn, store['x'],
                                    store['key_padding_mask'])
    probs = probs.mean(dim=1)  # over heads: (B, S, S)
    num_video = video_out.shape[1]
    rows = probs[:, [num_video + p for p in positions]]  # (B, Q, S)
    to_video = rows[..., :num_video].mean(dim=1)  # (B, N)
    grid = tuple(s // d for s, d in zip(
        video.shape[2:], (backbone.tubelet_size, backbone.patch_size,
                          backbone.patch_size)))
    heat = to_video.reshape(video.shape[0], *grid)
    share = float(rows[..., :num_video].sum(-1).mean())
    return heat, dict(video_share=share, layer=index,
                      num_heads=backbone.blocks[index].attn.num_heads)


def upsample_heatmap(heat: torch.Tensor, num_frames: int, height: int,
                     width: int) -> torch.Tensor:
    """``(T', H', W')`` -> ``(T, H, W)``: every tube's value covers its
    frames (nearest in time), bilinear in space."""
    heat = heat.float()
    t = heat.shape[0]
    if num_frames % t:
        raise ValueError(f'{num_frames} frames are not a multiple of {t} '
                         'temporal tokens')
    spatial = F.interpolate(heat[:, None], size=(height, width),
                            mode='bilinear', align_corners=False)[:, 0]
    return spatial.repeat_interleave(num_frames // t, dim=0)


def colormap(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] -> uint8 RGB, a blue-cyan-yellow-red ramp."""
    v = np.clip(np.asarray(values, dtype=np.float32), 0, 1)
    r = np.clip(1.5 - np.abs(4 * v - 3), 0, 1)
    g = np.clip(1.5 - np.abs(4 * v - 2), 0, 1)
    b = np.clip(1.5 - np.abs(4 * v - 1), 0, 1)
    return np.round(np.stack([r, g, b], -1) * 255).astype(np.uint8)


def overlay_heatmap(frames: np.ndarray, heat: np.ndarray,
                    alpha: float = 0.5) -> np.ndarray:
    """Blend a ``(T, H, W)`` map in [0, 1] over uint8 ``(T, H, W, 3)``."""
    colours = colormap(heat).astype(np.float32)
    out = (1 - alpha) * frames.astype(np.float32) + alpha * colours
    return np.round(out).clip(0, 255).astype(np.uint8)


def attention_figure(video_pixels: torch.Tensor, heat: torch.Tensor,
                     title: Sequence, alpha: float = 0.5,
                     scale: int = 1) -> Image.Image:
    """Frames and heat-map overlays of one clip.

    Args:
        video_pixels: ``(C, T, H, W)`` in [0, 1].
        heat: ``(T', H', W')`` attention (any scale); shown min-max
            normalised over the whole clip.
        title: lines above the grid.
    """
    frames = to_uint8_frames(video_pixels)
    t, h, w = frames.shape[:3]
    full = upsample_heatmap(heat, t, h, w).cpu().numpy()
    lo, hi = float(full.min()), float(full.max())
    norm = (full - lo) / (hi - lo) if hi > lo else np.zeros_like(full)
    rows = [('frames', frames), ('attention', overlay_heatmap(frames, norm,
                                                              alpha)),
            ('map', colormap(norm))]
    footer = [f'colour: min-max over the clip (blue {lo:.3g} .. red '
              f'{hi:.3g})']
    return labelled_rows(rows, title, footer, scale)
