"""One-object synthetic clips labelled by their motion: the embedded
action-recognition dataset.

Every clip is a scene of :mod:`.scene` with a single object; its class is the
object's motion (``'moves left'``, ``'grows'``, ...), so telling classes apart
needs the order of frames, not only their content (``moves left`` and
``moves right``, ``grows`` and ``shrinks`` share their frames in reverse).
Classes are balanced: clip ``index`` shows motion ``index % num_classes``;
colour, shape, background and trajectory are drawn at random.

Layout under ``root`` (mmaction2's ``VideoDataset`` reads the lists)::

    videos/{split}_{index:05d}.mp4
    annotations/{train,val,test}_list.txt   "{split}_{index:05d}.mp4 {label}"
    annotations/classes.txt                 one motion name a line, by label
    meta.json                               parameters; "complete": true last

Clip ``index`` of ``split`` comes from ``np.random.default_rng([seed,
ACTION_STREAM, SPLIT_IDS[split], index])``: the output does not depend on the
number of workers, and the clips differ from the video-text dataset's.
"""
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import numpy as np

from .generator import (SPLIT_IDS, SPLITS, _json_text, _write_text,
                        begin_generation, render_splits, write_mp4)
from .scene import MOTIONS, render_clip, sample_scene

ACTION_VERSION = 1
# keeps these clips' random streams apart from the other synthetic datasets
ACTION_STREAM = 11
PARAM_KEYS: Tuple[str, ...] = ('version', 'seed', 'num_train', 'num_val',
                               'num_test', 'num_frames', 'fps', 'size',
                               'motions')
OWNED = ('videos', 'annotations', 'meta.json')


def clip_name(split: str, index: int) -> str:
    return f'{split}_{index:05d}.mp4'


def _render_clips(task) -> List[Tuple[str, int, int]]:
    """Render a chunk of clips; returns ``(split, index, label)``."""
    root, params, split, indices = task
    motions = params['motions']
    done = []
    for index in indices:
        rng = np.random.default_rng(
            [params['seed'], ACTION_STREAM, SPLIT_IDS[split], index])
        label = index % len(motions)
        scene = sample_scene(rng, num_objects=1, motions=[motions[label]])
        write_mp4(osp.join(root, 'videos', clip_name(split, index)),
                  render_clip(scene, params['num_frames'], params['size']),
                  params['fps'])
        done.append((split, index, label))
    return done


def generate_action_dataset(root: str,
                            num_train: int = 1000,
                            num_val: int = 200,
                            num_test: int = 400,
                            num_frames: int = 32,
                            fps: float = 10,
                            size: int = 112,
                            seed: int = 0,
                            motions: Optional[Sequence[str]] = None,
                            workers: Optional[int] = None,
                            progress: bool = True) -> dict:
    """Generate (or reuse) the synthetic action dataset under ``root``.

    Idempotent like :func:`~.generator.generate_synthetic_dataset`: a
    complete ``meta.json`` with the same parameters means nothing is
    written; otherwise the owned folders are rebuilt.

    Args:
        root: output folder.
        num_train, num_val, num_test: clips per split.
        num_frames, fps, size: clip length, frame rate, square frame side
            (the video-text dataset's defaults, so a model pre-trained on
            it sees the same clips).
        seed: the only source of randomness (with split and index).
        motions: the classes, names of :data:`~.scene.MOTIONS` (default:
            all 8, in that order); label ``i`` is ``motions[i]``.
        workers: processes (None: ``os.cpu_count()``).
        progress: tqdm progress bar.

    Returns:
        The meta dict.
    """
    motions = list(MOTIONS) if motions is None else [str(m) for m in motions]
    unknown = [m for m in motions if m not in MOTIONS]
    if unknown or len(set(motions)) != len(motions) or len(motions) < 2:
        raise ValueError(f'motions must be >= 2 distinct names of '
                         f'{list(MOTIONS)}, got {motions}')
    if min(num_train, num_val, num_test) < 0 or num_frames < 2 or \
            fps <= 0 or size < 16:
        raise ValueError('need non-negative counts, num_frames >= 2, '
                         'fps > 0 and size >= 16')
    counts = {'train': int(num_train), 'val': int(num_val),
              'test': int(num_test)}
    params = dict(version=ACTION_VERSION, seed=int(seed),
                  num_train=counts['train'], num_val=counts['val'],
                  num_test=counts['test'], num_frames=int(num_frames),
                  fps=fps, size=int(size), motions=motions)
    root = osp.abspath(root)
    meta = begin_generation(root, params, PARAM_KEYS, OWNED)
    if meta is not None:
        return meta
    labels = render_splits(root, params, counts, _render_clips, workers,
                           chunk=16, desc='action clips', progress=progress)

    for split in SPLITS:
        lines = [f'{clip_name(split, i)} {labels[split][i]}\n'
                 for i in range(counts[split])]
        _write_text(osp.join(root, 'annotations', f'{split}_list.txt'),
                    ''.join(lines))
    _write_text(osp.join(root, 'annotations', 'classes.txt'),
                ''.join(m + '\n' for m in motions))
    meta = dict(params, complete=True)
    _write_text(osp.join(root, 'meta.json'), _json_text(meta))
    return meta
