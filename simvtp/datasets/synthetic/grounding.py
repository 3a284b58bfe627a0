"""Long synthetic videos with timed events: the embedded grounding dataset.

A video is a sequence of 4-8 events on one dark background, with short empty
stretches (background only) before, between and after them. Each event is
a scene of :mod:`.scene` (one or two coloured shapes doing one motion each)
lasting a few seconds, and its caption (``"a red circle moves left"``) is a
query whose answer is the event's ``[start, end]`` in seconds. To make
grounding need motion as well as appearance, an event re-uses the objects
of the previous one with new motions with probability ``repeat_prob``
(``"the red circle moves left"`` then ``"the red circle grows"``); no two
events of a video share a (colour, shape, motion) triple, so every query
has one answer.

Layout under ``root``::

    videos/{video_id}.mp4             all splits
    annotations/{train,val,test}.json ActivityNet Captions format:
                                      {video_id: {"duration": s,
                                       "timestamps": [[s, e], ...],
                                       "sentences": [...]}}
    annotations/videos.txt            video list for feature extraction
                                      (``videos/{id}.mp4<TAB>{id}``)
    meta.json                         parameters; "complete": true last

Video ``index`` of ``split`` comes from ``np.random.default_rng([seed,
GROUNDING_STREAM, SPLIT_IDS[split], index])``: the output does not depend on
the number of workers.
"""
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import numpy as np

from .generator import (SPLIT_IDS, SPLITS, _json_text, _write_text,
                        begin_generation, render_splits, write_mp4)
from .scene import SceneSpec, render_background, render_clip, \
    sample_background, sample_scene

GROUNDING_VERSION = 1
# keeps these videos' random streams apart from the clip dataset's
GROUNDING_STREAM = 7
PARAM_KEYS: Tuple[str, ...] = (
    'version', 'seed', 'num_train', 'num_val', 'num_test', 'fps', 'size',
    'min_events', 'max_events', 'min_event_frames', 'max_event_frames',
    'max_gap_frames', 'repeat_prob')
OWNED = ('videos', 'annotations', 'meta.json')
_MAX_REDRAWS = 100


def _triples(spec: SceneSpec) -> set:
    return {(o.colour, o.shape, o.motion) for o in spec.objects}


def sample_events(rng: np.random.Generator, num_events: int,
                  repeat_prob: float) -> List[SceneSpec]:
    """``num_events`` scenes on one shared background, pairwise distinct.

    With probability ``repeat_prob`` an event keeps the previous event's
    colours and shapes and draws new motions. An event sharing a (colour,
    shape, motion) triple with an earlier one is redrawn.
    """
    background = sample_background(rng)
    events: List[SceneSpec] = []
    used: set = set()
    for _ in range(num_events):
        for _attempt in range(_MAX_REDRAWS):
            prev = events[-1] if events else None
            if prev is not None and rng.random() < repeat_prob:
                spec = sample_scene(
                    rng, num_objects=len(prev.objects),
                    colours=[o.colour for o in prev.objects],
                    shapes=[o.shape for o in prev.objects])
            else:
                spec = sample_scene(rng)
            if not _triples(spec) & used:
                break
        else:
            raise RuntimeError('could not draw distinct events; lower '
                               'max_events')
        spec.background = background
        used |= _triples(spec)
        events.append(spec)
    return events


def sample_video(rng: np.random.Generator, params: dict
                 ) -> Tuple[List[SceneSpec], List[Tuple[int, int]], int]:
    """Events, their ``[start, end)`` frames and the video's frame count."""
    num = int(rng.integers(params['min_events'], params['max_events'] + 1))
    events = sample_events(rng, num, params['repeat_prob'])
    spans, cursor = [], 0
    for _ in events:
        cursor += int(rng.integers(0, params['max_gap_frames'] + 1))
        length = int(rng.integers(params['min_event_frames'],
                                  params['max_event_frames'] + 1))
        spans.append((cursor, cursor + length))
        cursor += length
    cursor += int(rng.integers(0, params['max_gap_frames'] + 1))
    return events, spans, cursor


def render_video(events: Sequence[SceneSpec],
                 spans: Sequence[Tuple[int, int]], num_frames: int,
                 size: int) -> np.ndarray:
    """``(num_frames, size, size, 3)`` uint8 RGB: the background with each
    event rendered over its frames (its motion spans its own length)."""
    video = np.empty((num_frames, size, size, 3), np.uint8)
    video[:] = render_background(events[0].background, size)
    for spec, (start, end) in zip(events, spans):
        video[start:end] = render_clip(spec, end - start, size)
    return video


def video_id(split: str, index: int) -> str:
    return f'{split}_{index:05d}'


def _render_videos(task) -> List[Tuple[str, int, dict]]:
    root, params, split, indices = task
    done = []
    for index in indices:
        rng = np.random.default_rng(
            [params['seed'], GROUNDING_STREAM, SPLIT_IDS[split], index])
        events, spans, num_frames = sample_video(rng, params)
        vid = video_id(split, index)
        write_mp4(osp.join(root, 'videos', f'{vid}.mp4'),
                  render_video(events, spans, num_frames, params['size']),
                  params['fps'])
        fps = params['fps']
        done.append((split, index, dict(
            duration=round(num_frames / fps, 6),
            timestamps=[[round(s / fps, 6), round(e / fps, 6)]
                        for s, e in spans],
            sentences=[spec.caption for spec in events])))
    return done


def generate_grounding_dataset(root: str,
                               num_train: int = 500,
                               num_val: int = 100,
                               num_test: int = 200,
                               fps: float = 10,
                               size: int = 112,
                               seed: int = 0,
                               min_events: int = 4,
                               max_events: int = 8,
                               min_event_frames: int = 25,
                               max_event_frames: int = 55,
                               max_gap_frames: int = 20,
                               repeat_prob: float = 0.5,
                               workers: Optional[int] = None,
                               progress: bool = True) -> dict:
    """Generate (or reuse) the synthetic grounding dataset under ``root``.

    Idempotent like :func:`~.generator.generate_synthetic_dataset`: a
    complete ``meta.json`` with the same parameters means nothing is
    written; otherwise the owned folders are rebuilt.

    Args:
        root: output folder.
        num_train, num_val, num_test: videos per split.
        fps, size: frame rate and square frame side.
        seed: the only source of randomness (with split and index).
        min_events, max_events: events per video (inclusive).
        min_event_frames, max_event_frames: frames per event (inclusive).
        max_gap_frames: background-only frames before, between and after
            events, uniform in ``[0, max_gap_frames]``.
        repeat_prob: chance that an event re-uses the previous objects.
        workers: processes (None: ``os.cpu_count()``).
        progress: tqdm progress bar.

    Returns:
        The meta dict.
    """
    if not 1 <= min_events <= max_events or not \
            2 <= min_event_frames <= max_event_frames or max_gap_frames < 0:
        raise ValueError('need 1 <= min_events <= max_events, 2 <= '
                         'min_event_frames <= max_event_frames and '
                         'max_gap_frames >= 0')
    if min(num_train, num_val, num_test) < 0 or fps <= 0 or size < 16:
        raise ValueError('need non-negative counts, fps > 0, size >= 16')
    counts = {'train': int(num_train), 'val': int(num_val),
              'test': int(num_test)}
    params = dict(version=GROUNDING_VERSION, seed=int(seed),
                  num_train=counts['train'], num_val=counts['val'],
                  num_test=counts['test'], fps=fps, size=int(size),
                  min_events=int(min_events), max_events=int(max_events),
                  min_event_frames=int(min_event_frames),
                  max_event_frames=int(max_event_frames),
                  max_gap_frames=int(max_gap_frames),
                  repeat_prob=float(repeat_prob))
    root = osp.abspath(root)
    meta = begin_generation(root, params, PARAM_KEYS, OWNED)
    if meta is not None:
        return meta
    annotations = render_splits(root, params, counts, _render_videos,
                                workers, chunk=4, desc='grounding videos',
                                progress=progress)

    lines = []
    for split in SPLITS:
        table = {video_id(split, i): annotations[split][i]
                 for i in range(counts[split])}
        _write_text(osp.join(root, 'annotations', f'{split}.json'),
                    _json_text(table))
        lines += [f'videos/{vid}.mp4\t{vid}\n' for vid in table]
    _write_text(osp.join(root, 'annotations', 'videos.txt'), ''.join(lines))
    num_queries = {s: sum(len(a['sentences'])
                          for a in annotations[s].values()) for s in SPLITS}
    meta = dict(params, num_queries=num_queries, complete=True)
    _write_text(osp.join(root, 'meta.json'), _json_text(meta))
    return meta
