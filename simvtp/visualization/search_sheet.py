"""A contact sheet of text-to-video search results.

One row per hit (rank, score and file name on the left, ``num_frames``
frames spread evenly over the video), the query as the title; built with
:func:`~simvtp.visualization.reconstruction.labelled_rows`, so the sheet is
``label_width + num_frames * size`` pixels wide and ``title height + k *
size`` high for ``k`` hits. Frames are letterboxed into ``size x size``
tiles. A hit whose file cannot be read shows grey tiles and says so.
"""
import os.path as osp
import textwrap
from typing import List, Optional, Sequence

import numpy as np
from PIL import Image

from .reconstruction import labelled_rows

__all__ = ['SHEET_LABEL_WIDTH', 'fit_frames', 'read_hit_frames',
           'search_sheet', 'hit_preview_gif']

SHEET_LABEL_WIDTH = 200
_GREY = 160


def fit_frames(frames: np.ndarray, size: int) -> np.ndarray:
    """``(F, H, W, 3)`` uint8 -> ``(F, size, size, 3)``: each frame scaled
    to fit (aspect kept) and centred on a white tile."""
    out = np.full((len(frames), size, size, 3), 255, np.uint8)
    for i, frame in enumerate(frames):
        h, w = frame.shape[:2]
        scale = size / max(h, w)
        nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
        img = Image.fromarray(frame).resize((nw, nh), Image.BILINEAR)
        top, left = (size - nh) // 2, (size - nw) // 2
        out[i, top:top + nh, left:left + nw] = np.asarray(img)
    return out


def read_hit_frames(path: str, num_frames: int = 4) -> np.ndarray:
    """``num_frames`` RGB frames ``(F, H, W, 3)`` uint8 spread over the
    video (the centres of ``F`` equal segments)."""
    import decord
    reader = decord.VideoReader(path, num_threads=1)
    total = len(reader)
    if total <= 0:
        raise ValueError(f'{path}: the video has no frames')
    idx = ((np.arange(num_frames) + 0.5) * total / num_frames).astype(int)
    return reader.get_batch(np.clip(idx, 0, total - 1).tolist()).asnumpy()


def search_sheet(query: str, hits: Sequence, num_frames: int = 4,
                 size: int = 96, label_width: int = SHEET_LABEL_WIDTH,
                 note: Optional[str] = None,
                 captions: Optional[Sequence[Sequence[str]]] = None
                 ) -> Image.Image:
    """The contact sheet of one query.

    Args:
        query: the text searched for (the title).
        hits: :class:`~simvtp.apis.SearchHit` (``rank``, ``video`` path,
            ``score``), best first.
        num_frames: frames shown per hit.
        size: tile side in pixels.
        label_width: width of the rank/score/name column.
        note: an extra title line (e.g. the index size).
        captions: per hit, its annotated captions (the first is shown,
            wrapped to the label column), to judge a hit at a glance.
    """
    if not hits:
        raise ValueError('no hits to draw')
    rows = []
    chars = max(8, (label_width - 8) // 6)  # the default font: ~6 px/char
    for i, hit in enumerate(hits):
        try:
            frames = fit_frames(read_hit_frames(hit.video, num_frames), size)
            status = ''
        except Exception as exc:  # the sheet still shows the ranking
            frames = np.full((num_frames, size, size, 3), _GREY, np.uint8)
            status = f'\nunreadable: {type(exc).__name__}'
        name = osp.basename(hit.video)
        parent = osp.basename(osp.dirname(hit.video))
        label = (f'#{hit.rank}  score {hit.score:.3f}\n'
                 f'{osp.join(parent, name) if parent else name}{status}')
        if captions and captions[i]:
            text = textwrap.wrap(f'annotated: "{captions[i][0]}"', chars)
            lines = max(1, (size - 30) // 12)  # what fits under the label
            label += '\n' + '\n'.join(text[:lines])
        rows.append((label, frames))
    title: List = [f'query: "{query}"']
    if note:
        title.append((note, (90, 90, 90)))
    return labelled_rows(rows, title=title, label_width=label_width)


def hit_preview_gif(path: str, out: str, num_frames: int = 16,
                    size: int = 160, fps: float = 8.0) -> str:
    """An animated GIF preview of a video (browsers play it whatever the
    file's codec); returns ``out``."""
    from .reconstruction import save_gif
    frames = fit_frames(read_hit_frames(path, num_frames), size)
    save_gif([Image.fromarray(f) for f in frames], out, fps=fps)
    return out
