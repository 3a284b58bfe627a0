"""Write the synthetic video-text dataset to disk, in parallel, idempotently.

Layout under ``root`` (see :func:`generate_synthetic_dataset`)::

    videos/{page_dir}/{videoid}.mp4  all splits; page_dir "000", "001", ...
    annotations/train.csv            WebVid-2M CSV
    annotations/train.json           {"{page_dir}/{videoid}.mp4": caption}
    annotations/val.json, test.json  [{"video": ..., "caption": ...}, ...]
    tokenizer/                       WordPiece vocab for BertTokenizerFast
    meta.json                        parameters; "complete": true written last

Clip ``index`` of split ``split`` is drawn from its own generator
``np.random.default_rng([seed, SPLIT_IDS[split], index])``, so the output does
not depend on the number of workers or on the order they finish in.
"""
import csv
import io
import json
import os
import os.path as osp
import shutil
from multiprocessing import get_all_start_methods, get_context
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .scene import COLOURS, MOTIONS, SHAPES, render_clip, sample_scene
from .vocab import train_vocab

DATASET_VERSION = 1
SPLITS: Tuple[str, ...] = ('train', 'val', 'test')
SPLIT_IDS: Dict[str, int] = {'train': 0, 'val': 1, 'test': 2}
# Video ids are integer-like strings without leading zeros, so readers that
# parse them as ints still map back to the same file name.
BASE_VIDEO_ID = 1_000_000
VIDEOS_PER_PAGE = 100
FOURCCS: Tuple[str, ...] = ('mp4v', 'avc1')
WEBVID_HEADER = ('videoid', 'contentUrl', 'duration', 'page_dir', 'name')
# The parameters that define the content; meta.json must match all of them.
PARAM_KEYS: Tuple[str, ...] = ('version', 'seed', 'num_train', 'num_val',
                               'num_test', 'num_frames', 'fps', 'size',
                               'videos_per_page')
# Subfolders and files this module owns under root (and may delete).
OWNED = ('videos', 'annotations', 'tokenizer', 'meta.json')


def clip_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator that clip ``index`` of ``split`` is drawn from."""
    return np.random.default_rng([seed, SPLIT_IDS[split], index])


def video_location(split: str, index: int,
                   counts: Dict[str, int]) -> Tuple[str, str]:
    """(videoid, page_dir) of a clip; ids run over train, val, test."""
    offset = sum(counts[s] for s in SPLITS[:SPLITS.index(split)])
    global_index = offset + index
    return (str(BASE_VIDEO_ID + global_index),
            f'{global_index // VIDEOS_PER_PAGE:03d}')


def write_mp4(path: str, clip: np.ndarray, fps: float) -> None:
    """Write a (T, H, W, 3) uint8 RGB clip as mp4, atomically.

    The file appears under ``path`` only once complete, so an interrupted
    run never leaves a truncated video behind.
    """
    num_frames, height, width, _ = clip.shape
    tmp = path[:-len('.mp4')] + '.tmp.mp4'   # the extension picks the muxer
    for fourcc in FOURCCS:
        writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*fourcc), fps,
                                 (width, height))
        if writer.isOpened():
            break
        writer.release()
    else:
        raise RuntimeError(f'OpenCV cannot write mp4 (tried fourcc {FOURCCS})'
                           '; check that opencv-python has video I/O')
    try:
        for frame in clip:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    os.replace(tmp, path)


def _init_worker() -> None:
    # One process per core already; OpenCV threads would oversubscribe.
    cv2.setNumThreads(1)


def _render_chunk(task) -> List[Tuple[str, int, str]]:
    """Render and write a chunk of clips; returns (split, index, caption)."""
    root, seed, split, indices, counts, num_frames, fps, size = task
    done = []
    for index in indices:
        scene = sample_scene(clip_rng(seed, split, index))
        videoid, page_dir = video_location(split, index, counts)
        path = osp.join(root, 'videos', page_dir, f'{videoid}.mp4')
        write_mp4(path, render_clip(scene, num_frames, size), fps)
        done.append((split, index, scene.caption))
    return done


def _duration(num_frames: int, fps: float) -> str:
    """WebVid's ISO-8601 duration, e.g. ``"PT00H00M03S"``."""
    seconds = max(1, int(round(num_frames / fps)))
    return (f'PT{seconds // 3600:02d}H{seconds // 60 % 60:02d}M'
            f'{seconds % 60:02d}S')


def _write_text(path: str, text: str) -> None:
    """Write a UTF-8 text file atomically, with ``\\n`` line endings."""
    tmp = path + '.tmp'
    with open(tmp, 'w', encoding='utf-8', newline='') as f:
        f.write(text)
    os.replace(tmp, path)


def _json_text(obj) -> str:
    return json.dumps(obj, indent=1, ensure_ascii=False) + '\n'


def write_annotations(root: str, captions: Dict[str, List[str]],
                      counts: Dict[str, int], num_frames: int,
                      fps: float) -> None:
    """Write train.csv, train.json, val.json and test.json (see module doc)."""
    ann_dir = osp.join(root, 'annotations')
    os.makedirs(ann_dir, exist_ok=True)
    duration = _duration(num_frames, fps)

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator='\n')
    writer.writerow(WEBVID_HEADER)
    train_json = {}
    for index, caption in enumerate(captions['train']):
        videoid, page_dir = video_location('train', index, counts)
        writer.writerow([videoid, f'https://example.invalid/{videoid}.mp4',
                         duration, page_dir, caption])
        train_json[f'{page_dir}/{videoid}.mp4'] = caption
    _write_text(osp.join(ann_dir, 'train.csv'), buf.getvalue())
    _write_text(osp.join(ann_dir, 'train.json'), _json_text(train_json))

    for split in ('val', 'test'):
        items = []
        for index, caption in enumerate(captions[split]):
            videoid, page_dir = video_location(split, index, counts)
            items.append({'video': f'{page_dir}/{videoid}.mp4',
                          'caption': caption})
        _write_text(osp.join(ann_dir, f'{split}.json'), _json_text(items))


def read_meta(root: str) -> Optional[dict]:
    """``root/meta.json`` as a dict, or None if missing or unreadable."""
    try:
        with open(osp.join(root, 'meta.json'), encoding='utf-8') as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def _is_ours(meta: Optional[dict], param_keys=PARAM_KEYS) -> bool:
    return isinstance(meta, dict) and all(k in meta for k in param_keys)


def is_complete(meta: Optional[dict], params: dict,
                param_keys=PARAM_KEYS) -> bool:
    """Whether ``meta`` describes a finished dataset with these parameters."""
    return bool(meta) and meta.get('complete') is True and all(
        meta.get(k) == params[k] for k in param_keys)


def _clear_root(root: str, owned=OWNED, param_keys=PARAM_KEYS) -> None:
    """Remove what a previous (different or unfinished) run left."""
    if not _is_ours(read_meta(root), param_keys):
        # Not a folder we wrote (or its meta.json was broken): refuse to
        # delete or mix with files we did not write.
        leftovers = [n for n in owned[:-1] if osp.isdir(osp.join(root, n))
                     and os.listdir(osp.join(root, n))]
        if leftovers:
            raise FileExistsError(
                f'{root} already holds {leftovers} but no synthetic-dataset '
                'meta.json; choose an empty root or delete them')
    for name in owned:
        path = osp.join(root, name)
        if osp.isdir(path):
            shutil.rmtree(path)
        elif osp.exists(path):
            os.remove(path)


def _chunks(indices: Sequence[int], size: int):
    for start in range(0, len(indices), size):
        yield list(indices[start:start + size])


def generate_synthetic_dataset(root: str, num_train: int = 2000,
                               num_val: int = 128, num_test: int = 256,
                               num_frames: int = 32, fps: float = 10,
                               size: int = 112, seed: int = 0,
                               workers: Optional[int] = None,
                               progress: bool = True) -> dict:
    """Generate (or reuse) the synthetic dataset under ``root``.

    Idempotent: if ``root/meta.json`` is complete and its parameters match,
    nothing is written and the stored meta dict is returned. Otherwise the
    owned sub-folders are wiped and everything is regenerated: videos (in a
    process pool), annotations, the WordPiece vocabulary, then meta.json with
    ``"complete": true`` as the very last write.

    Args:
        root: output folder (created if needed).
        num_train, num_val, num_test: clips per split.
        num_frames: frames per clip (T).
        fps: frame rate stored in the mp4 files.
        size: frame side in pixels (clips are size x size).
        seed: the only source of randomness, with (split, index).
        workers: processes; None uses ``os.cpu_count()``, 1 runs in-process.
        progress: show a tqdm progress bar.

    Returns:
        The meta dict (the content of ``root/meta.json``).
    """
    if num_frames < 2 or size < 16 or fps <= 0 or min(
            num_train, num_val, num_test) < 0:
        raise ValueError('need num_frames >= 2, size >= 16, fps > 0 and '
                         'non-negative clip counts')
    counts = {'train': int(num_train), 'val': int(num_val),
              'test': int(num_test)}
    params = dict(version=DATASET_VERSION, seed=int(seed),
                  num_train=counts['train'], num_val=counts['val'],
                  num_test=counts['test'], num_frames=int(num_frames),
                  fps=fps, size=int(size), videos_per_page=VIDEOS_PER_PAGE)
    root = osp.abspath(root)
    meta = read_meta(root)
    if is_complete(meta, params):
        return meta

    os.makedirs(root, exist_ok=True)
    _clear_root(root)
    _write_text(osp.join(root, 'meta.json'),
                _json_text(dict(params, complete=False)))
    total = sum(counts.values())
    for page in range((total + VIDEOS_PER_PAGE - 1) // VIDEOS_PER_PAGE):
        os.makedirs(osp.join(root, 'videos', f'{page:03d}'), exist_ok=True)

    workers = max(1, int(workers or os.cpu_count() or 1))
    # Small chunks keep the pool balanced and the progress bar lively.
    chunk = max(1, min(16, total // (workers * 8) or 1))
    tasks = [(root, params['seed'], split, indices, counts,
              params['num_frames'], fps, params['size'])
             for split in SPLITS
             for indices in _chunks(range(counts[split]), chunk)]
    captions = {s: [None] * counts[s] for s in SPLITS}

    from tqdm import tqdm
    with tqdm(total=total, desc='synthetic clips', unit='clip',
              disable=not progress) as bar:
        for done in _run_tasks(tasks, workers):
            for split, index, caption in done:
                captions[split][index] = caption
            bar.update(len(done))

    write_annotations(root, captions, counts, params['num_frames'], fps)
    vocab_size = train_vocab(captions['train'], osp.join(root, 'tokenizer'))

    meta = dict(params,
                colours=list(COLOURS), shapes=list(SHAPES),
                motions=list(MOTIONS), vocab_size=vocab_size,
                complete=True)
    _write_text(osp.join(root, 'meta.json'), _json_text(meta))
    return meta


def begin_generation(root: str, params: dict, param_keys: Sequence[str],
                     owned: Sequence[str]) -> Optional[dict]:
    """Start (or skip) writing a dataset whose meta.json records ``params``.

    Returns the stored meta dict when ``root`` already holds a complete
    dataset with these parameters (nothing to do); otherwise clears what a
    previous run left, writes meta.json with ``"complete": false``, creates
    the owned sub-folders and returns None.
    """
    meta = read_meta(root)
    if is_complete(meta, params, param_keys):
        return meta
    os.makedirs(root, exist_ok=True)
    _clear_root(root, owned, param_keys)
    _write_text(osp.join(root, 'meta.json'),
                _json_text(dict(params, complete=False)))
    for name in owned:
        if name != 'meta.json':
            os.makedirs(osp.join(root, name))
    return None


def render_splits(root: str, params: dict, counts: Dict[str, int], fn,
                  workers: Optional[int], chunk: int, desc: str,
                  progress: bool) -> Dict[str, Dict[int, object]]:
    """Run ``fn((root, params, split, indices))`` over chunks of every split.

    ``fn`` returns a list of ``(split, index, result)``; the results come
    back as ``{split: {index: result}}`` (in any order of completion).
    """
    workers = max(1, int(workers or os.cpu_count() or 1))
    tasks = [(root, params, split, list(range(start, min(
        start + chunk, counts[split]))))
        for split in SPLITS for start in range(0, counts[split], chunk)]
    results: Dict[str, Dict[int, object]] = {s: {} for s in SPLITS}
    from tqdm import tqdm
    with tqdm(total=sum(counts.values()), desc=desc, unit='video',
              disable=not progress) as bar:
        for done in _run_tasks(tasks, workers, fn):
            for split, index, result in done:
                results[split][index] = result
            bar.update(len(done))
    return results


def _run_tasks(tasks: list, workers: int, fn=_render_chunk):
    """Yield ``fn(task)`` (default :func:`_render_chunk`) as tasks finish."""
    if workers == 1:
        yield from map(fn, tasks)
        return
    # fork where available: workers inherit the imported modules instead of
    # re-importing simvtp (and mmaction) in every process.
    method = 'fork' if 'fork' in get_all_start_methods() else None
    # A forked child that reconfigures OpenCV's thread pool (setNumThreads)
    # waits forever for pool threads that exist only in the parent: shrink
    # the parent's pool to the calling thread while forking, restore after.
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        with get_context(method).Pool(workers,
                                      initializer=_init_worker) as pool:
            # Leaving the with-block (also on error or Ctrl-C) terminates it.
            yield from pool.imap_unordered(fn, tasks)
    finally:
        cv2.setNumThreads(threads)
