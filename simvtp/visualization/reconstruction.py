"""Drawing masked-video-and-caption reconstructions.

Everything takes tensors / arrays and returns PIL images or uint8 arrays, so
the command-line tool (``tools/visualizations/vis_reconstruction.py``) and the
training hook (:class:`simvtp.engine.hooks.ReconstructionVisHook`) share it.

Layout of :func:`labelled_rows` (and so of :func:`reconstruction_grid`), all
sizes in pixels, ``s`` = ``scale``::

    +---------------------------------------------------------+
    | title (wrapped text, full width)                        |
    +-------------+-------------------------------------------+
    | label       | frame 0 | frame 1 | ... | frame T-1       |  H*s high
    | (LABEL_W)   |  W*s    |  W*s    |     |  W*s            |
    +-------------+-------------------------------------------+
    | ... one such row per entry ...                          |
    +---------------------------------------------------------+
    | footer lines (captions), wrapped                        |
    +---------------------------------------------------------+

width = ``LABEL_WIDTH + T * W * s``. Animation frames
(:func:`reconstruction_animation`) are the three panels side by side,
``(3 * W * s) x (H * s)``, with no text.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

__all__ = [
    'LABEL_WIDTH', 'ROW_LABELS', 'to_uint8_frames', 'text_block',
    'labelled_rows', 'reconstruction_grid', 'reconstruction_animation',
    'save_gif', 'stack_vertical', 'tokens_to_text', 'caption_lines',
    'predict_reconstruction', 'reconstruction_title', 'render_batch'
]

LABEL_WIDTH = 96
ROW_LABELS = ('original', 'masked', 'reconstructed')
BACKGROUND = (255, 255, 255)
FOREGROUND = (0, 0, 0)
WARNING = (190, 0, 0)
_PAD = 4


def _font():
    return ImageFont.load_default()


def to_uint8_frames(video) -> np.ndarray:
    """``(C, T, H, W)`` float in [0, 1] (tensor or array) -> ``(T, H, W, 3)``
    uint8. One channel is repeated to three."""
    if torch.is_tensor(video):
        video = video.detach().float().cpu().numpy()
    video = np.asarray(video, dtype=np.float32)
    if video.ndim != 4:
        raise ValueError(f'video must be (C, T, H, W), got {video.shape}')
    if video.shape[0] == 1:
        video = np.repeat(video, 3, axis=0)
    frames = np.clip(video.transpose(1, 2, 3, 0), 0, 1) * 255
    return np.round(frames).astype(np.uint8)


def _wrap(text: str, width: int, font, draw: ImageDraw.ImageDraw
          ) -> List[str]:
    """Greedy word wrap of one paragraph to ``width`` pixels."""
    words = text.split(' ')
    lines, line = [], ''
    for word in words:
        cand = word if not line else f'{line} {word}'
        if draw.textlength(cand, font=font) <= width or not line:
            line = cand
        else:
            lines.append(line)
            line = word
    lines.append(line)
    return lines


def text_block(lines: Sequence, width: int, font=None,
               background=BACKGROUND) -> Image.Image:
    """Wrapped lines on a ``width``-wide image.

    ``lines`` holds strings or ``(string, rgb colour)`` pairs.
    """
    font = font or _font()
    probe = ImageDraw.Draw(Image.new('RGB', (1, 1)))
    line_h = font.getbbox('Ag[]')[3] + 3
    wrapped: List[Tuple[str, tuple]] = []
    for item in lines:
        text, colour = (item, FOREGROUND) if isinstance(item, str) else item
        for part in _wrap(text, max(1, width - 2 * _PAD), font, probe):
            wrapped.append((part, colour))
    height = len(wrapped) * line_h + 2 * _PAD
    image = Image.new('RGB', (width, height), background)
    draw = ImageDraw.Draw(image)
    for i, (text, colour) in enumerate(wrapped):
        draw.text((_PAD, _PAD + i * line_h), text, fill=colour, font=font)
    return image


def _scale(frames: np.ndarray, scale: int) -> np.ndarray:
    if scale == 1:
        return frames
    return frames.repeat(scale, axis=1).repeat(scale, axis=2)


def labelled_rows(rows: Sequence[Tuple[str, np.ndarray]],
                  title: Optional[Sequence] = None,
                  footer: Optional[Sequence] = None,
                  scale: int = 1,
                  label_width: int = LABEL_WIDTH) -> Image.Image:
    """A grid: one labelled row of frames per entry of ``rows``.

    Args:
        rows: ``(label, frames)`` with ``frames`` uint8 ``(T, H, W, 3)``; all
            rows must share ``(T, H, W)``.
        title: lines above the grid (str or ``(str, colour)``).
        footer: lines below the grid.
        scale: integer up-scaling of every frame (nearest neighbour).
        label_width: width of the label column.
    """
    if not rows:
        raise ValueError('labelled_rows needs at least one row')
    shape = rows[0][1].shape
    for label, frames in rows:
        if frames.shape != shape or frames.ndim != 4 or shape[-1] != 3:
            raise ValueError(f'row {label!r}: frames {frames.shape} must be '
                             f'(T, H, W, 3) like the first row {shape}')
    t, h, w = shape[:3]
    width = label_width + t * w * scale
    font = _font()
    parts = []
    if title:
        parts.append(text_block(title, width, font))
    for label, frames in rows:
        row = Image.new('RGB', (width, h * scale), BACKGROUND)
        strip = _scale(frames, scale)  # (T, H*s, W*s, 3)
        strip = np.concatenate(list(strip), axis=1)  # (H*s, T*W*s, 3)
        row.paste(Image.fromarray(strip), (label_width, 0))
        ImageDraw.Draw(row).text((_PAD, _PAD), label, fill=FOREGROUND,
                                 font=font)
        parts.append(row)
    if footer:
        parts.append(text_block(footer, width, font))
    return stack_vertical(parts)


def stack_vertical(images: Sequence[Image.Image],
                   background=BACKGROUND) -> Image.Image:
    """Images one below the other (left-aligned, widest sets the width)."""
    width = max(im.width for im in images)
    out = Image.new('RGB', (width, sum(im.height for im in images)),
                    background)
    y = 0
    for im in images:
        out.paste(im, (0, y))
        y += im.height
    return out


def reconstruction_title(use_target_stats: bool = False) -> List:
    """The grid's title; the ground-truth-statistics variant is flagged."""
    if use_target_stats:
        return [('WARNING: --use-target-stats: hidden patches are '
                 'un-normalised with their GROUND-TRUTH mean/std (leaks the '
                 'hidden pixels; looks better than the model is)', WARNING)]
    return ['reconstruction: predicted values only (hidden patches '
            "un-normalised with the visible pixels' statistics)"]


def reconstruction_grid(original, masked, reconstructed,
                        captions: Optional[Dict[str, str]] = None,
                        title: Optional[Sequence] = None,
                        scale: int = 1) -> Image.Image:
    """Rows original / masked / reconstructed for every frame + captions.

    Args:
        original, masked, reconstructed: ``(C, T, H, W)`` in [0, 1].
        captions: e.g. ``{'original': ..., 'masked': ...,
            'reconstructed': ...}``, drawn as ``key: text`` lines.
        title: lines above (default :func:`reconstruction_title`).
        scale: integer up-scaling of the frames.
    """
    rows = [(label, to_uint8_frames(v)) for label, v in zip(
        ROW_LABELS, (original, masked, reconstructed))]
    footer = [f'{k}: {v}' for k, v in (captions or {}).items()]
    return labelled_rows(rows, title if title is not None else
                         reconstruction_title(), footer or None, scale)


def reconstruction_animation(original, masked, reconstructed,
                             scale: int = 1) -> List[Image.Image]:
    """One image per frame: original | masked | reconstructed side by side,
    each ``(3 * W * scale) x (H * scale)``."""
    panels = [_scale(to_uint8_frames(v), scale)
              for v in (original, masked, reconstructed)]
    return [Image.fromarray(np.concatenate([p[i] for p in panels], axis=1))
            for i in range(panels[0].shape[0])]


def save_gif(frames: Sequence[Image.Image], path: str,
             fps: float = 4.0) -> None:
    """An animated, looping GIF of ``frames``."""
    frames = list(frames)
    frames[0].save(path, save_all=True, append_images=frames[1:],
                   duration=max(1, int(round(1000 / fps))), loop=0)


# ------------------------------------------------------------------- text
def tokens_to_text(ids, tokenizer=None, highlight=None,
                   pad_id: int = 0) -> str:
    """Token ids -> readable text.

    WordPiece continuations (``##x``) are glued to the previous piece;
    [CLS]/[SEP]/[PAD] are left out (any of the tokenizer's special tokens
    except [MASK] and [UNK]) unless highlighted; ``highlight`` (bool per
    position) wraps those tokens in ``*...*``. Without a tokenizer the ids
    themselves are shown.
    """
    ids = [int(i) for i in (ids.tolist() if torch.is_tensor(ids) else ids)]
    marks = [False] * len(ids) if highlight is None else [
        bool(h) for h in (highlight.tolist() if torch.is_tensor(highlight)
                          else highlight)]
    if tokenizer is None:
        return ' '.join(f'*{i}*' if m else str(i)
                        for i, m in zip(ids, marks) if i != pad_id)
    tokens = tokenizer.convert_ids_to_tokens(ids)
    keep = {tokenizer.mask_token, tokenizer.unk_token}
    skip = set(tokenizer.all_special_tokens) - keep
    words: List[str] = []
    for tok, mark in zip(tokens, marks):
        if tok in skip and not mark:  # predictions are always shown
            continue
        piece = f'*{tok}*' if mark else tok
        if tok.startswith('##') and words:
            words[-1] += piece.replace('##', '', 1)
        else:
            words.append(piece)
    return ' '.join(words)


def caption_lines(input_ids_unmasked, input_ids, pred_ids, mlm_labels,
                  tokenizer=None, attention_mask=None) -> Dict[str, str]:
    """``{'original', 'masked', 'reconstructed'}`` caption strings.

    Predicted words (the masked positions) are wrapped in ``*...*``.
    """
    def cut(x):
        if attention_mask is None:
            return x
        return x[:int(attention_mask.sum())]
    selected = cut(mlm_labels) != -100
    return dict(
        original=tokens_to_text(cut(input_ids_unmasked), tokenizer),
        masked=tokens_to_text(cut(input_ids), tokenizer),
        reconstructed=tokens_to_text(cut(pred_ids), tokenizer, selected))


# -------------------------------------------------------------- the model
@torch.no_grad()
def predict_reconstruction(model, inputs: dict,
                           use_target_stats: bool = False
                           ) -> Dict[str, torch.Tensor]:
    """Run ``model.predict`` on masked ``inputs`` and collect the tensors.

    Args:
        model: a ``SimVTP`` (in eval mode) with MSM decoders.
        inputs: data-preprocessor output with ``video``, ``video_mask``,
            ``input_ids``, ``attention_mask``, ``mlm_labels``.
        use_target_stats: re-do the un-normalisation of the predicted
            patches with the hidden patches' *ground-truth* statistics
            (:meth:`PixelReconstructionHead.reconstruct` with
            ``use_target_stats=True``); for comparison only.

    Returns:
        ``original``, ``masked_video``, ``reconstruction``: ``(B, C, T, H,
        W)`` in [0, 1]; ``pred_ids`` ``(B, L)``.
    """
    for key in ('video', 'video_mask', 'input_ids', 'attention_mask',
                'mlm_labels'):
        if key not in inputs:
            raise KeyError(f'reconstruction needs inputs[{key!r}] (a masked '
                           'batch: TubeMasking + TextMasking)')
    if getattr(model, 'video_decoder', None) is None and getattr(
            model, 'shared_decoder', None) is None:
        raise ValueError("the model has no pixel decoder ('msm' not in "
                         'model.objectives)')
    samples = model.predict(inputs)
    recon = torch.stack([s.reconstruction for s in samples])
    masked = torch.stack([s.masked_video for s in samples])
    pred_ids = torch.stack([s.pred_ids for s in samples])
    original = model.pixel_head.to_pixels(inputs['video'])
    if use_target_stats:
        mask = inputs['video_mask']
        video_out, text_out = model.backbone(
            video=inputs['video'], text_ids=inputs['input_ids'],
            text_attention_mask=inputs['attention_mask'], video_mask=mask)
        if model.shared_decoder is not None:
            pred, _ = model.shared_decoder(video_out, mask, text_out,
                                           inputs['attention_mask'])
        else:
            pred = model.video_decoder(video_out, mask)
        recon = model.pixel_head.reconstruct(pred, inputs['video'], mask,
                                             use_target_stats=True)
    return dict(original=original, masked_video=masked,
                reconstruction=recon, pred_ids=pred_ids)


def render_batch(result: Dict[str, torch.Tensor], inputs: dict,
                 tokenizer=None, use_target_stats: bool = False,
                 scale: int = 1, num_samples: Optional[int] = None,
                 header: Optional[str] = None) -> Image.Image:
    """One grid per sample of :func:`predict_reconstruction`'s ``result``,
    stacked vertically, under one title."""
    num = result['original'].shape[0]
    num = num if num_samples is None else min(num, num_samples)
    title = list(reconstruction_title(use_target_stats))
    if header:
        title.insert(0, header)
    grids = []
    for i in range(num):
        captions = caption_lines(
            inputs['input_ids_unmasked'][i] if 'input_ids_unmasked' in inputs
            else inputs['input_ids'][i], inputs['input_ids'][i],
            result['pred_ids'][i], inputs['mlm_labels'][i], tokenizer,
            inputs['attention_mask'][i])
        grids.append(reconstruction_grid(
            result['original'][i], result['masked_video'][i],
            result['reconstruction'][i], captions,
            title=title if i == 0 else [], scale=scale))
    return stack_vertical(grids)
