"""Resumable, distributed extraction of per-clip features into HDF5.

Output layouts (what 2D-TAN's readers index, ``(num_clips, D)`` float32):

* ``'activitynet'``: ``f[video_id]['c3d_features']``
  (2D-TAN's ``sub_activitynet_v1-3.c3d.hdf5``);
* ``'charades'``, ``'tacos'`` (alias ``'flat'``): ``f[video_id]``
  (``{type}_features.hdf5``, ``tall_c3d_features.hdf5``).

Each feature array carries ``num_frames`` and ``fps`` attributes; the file's
root carries the layout, the sampling parameters and the encoder's identity
(the SHA-256 of its checkpoint file, ``'none'`` for a random
initialisation), so a resumed run with other parameters or another
checkpoint is refused instead of mixing features.

Writing is crash-safe: every rank commits its videos in small HDF5 chunk
files under ``OUT.parts/`` (each written to a temporary name and renamed
when complete), so a killed run loses at most one chunk; a new run skips
every video already in ``OUT`` or in a chunk. When all ranks are done, rank
0 merges ``OUT`` and the chunks into ``OUT.tmp``, renames it to ``OUT`` and
removes ``OUT.parts/``. Ranks come from torchrun's ``RANK`` /
``WORLD_SIZE`` (a gloo process group is created for the two barriers when
none exists). Videos that cannot be read are listed in ``OUT.failed.tsv``
(key, path, reason) and never stop the run.
"""
import glob
import hashlib
import json
import os
import os.path as osp
import re
import shutil
import time
from datetime import timedelta
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from ..datasets.grounding.feature_store import (LAYOUTS, FeatureFileError,
                                              check_layout, feature_keys,
                                              read_features)

__all__ = ['LAYOUTS', 'read_video_list', 'feature_keys', 'read_features',
           'extract_to_hdf5', 'ensure_features', 'FeatureFileError',
           'VIDEO_EXTENSIONS']

VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mkv', '.webm', '.mov', '.m4v', '.flv',
                    '.mpg', '.mpeg', '.3gp')
PARAM_KEYS = ('clip_len', 'frame_interval', 'stride', 'feature_dim')
#: string attributes that must match too (see :func:`encoder_identity`)
IDENTITY_KEYS = ('checkpoint_sha256', )
_CHUNK = re.compile(r'rank(\d+)-(\d+)\.h5$')


# --------------------------------------------------------------------------
# video lists
# --------------------------------------------------------------------------
def _key_of(path: str, key: str) -> str:
    name = osp.basename(path)
    if key == 'name':
        return name
    if key == 'stem':
        return osp.splitext(name)[0]
    raise ValueError(f"key must be 'stem' or 'name', got {key!r}")


def read_video_list(source: str, video_root: Optional[str] = None,
                    key: str = 'stem') -> List[Tuple[str, str]]:
    """``[(video_id, path), ...]`` from a list file or a folder.

    Args:
        source: a folder (every file with a video extension in it, sorted)
            or a text file with one video per line: ``PATH`` or
            ``PATH<TAB>VIDEO_ID``; blank lines and lines starting with
            ``#`` are skipped.
        video_root: relative paths are joined to it (default: the list
            file's folder).
        key: how a video id is derived from a path when the line gives
            none: ``'stem'`` (``abc.mp4`` -> ``abc``; Charades, ActivityNet)
            or ``'name'`` (``s30-d52.avi`` as is; TACoS).

    Raises:
        FeatureFileError: naming the file and line of an id used twice or
        containing ``/`` (HDF5 would read it as a nested group).
    """
    if osp.isdir(source):
        root = source if video_root is None else video_root
        names = sorted(n for n in os.listdir(source)
                       if n.lower().endswith(VIDEO_EXTENSIONS))
        entries = [(_key_of(n, key), osp.join(root, n), f'{source}/{n}')
                   for n in names]
    elif osp.isfile(source):
        root = osp.dirname(osp.abspath(source)) if video_root is None \
            else video_root
        entries = []
        with open(source, encoding='utf-8') as f:
            for lineno, line in enumerate(f, 1):
                line = line.rstrip('\r\n')
                if not line.strip() or line.lstrip().startswith('#'):
                    continue
                parts = line.split('\t')
                if len(parts) > 2 or not parts[0].strip():
                    raise FeatureFileError(
                        f'{source}:{lineno}: expected "PATH" or '
                        f'"PATH<TAB>VIDEO_ID", got {line!r}')
                path = parts[0].strip()
                vid = parts[1].strip() if len(parts) == 2 else \
                    _key_of(path, key)
                path = path if osp.isabs(path) else osp.join(root, path)
                entries.append((vid, path, f'{source}:{lineno}'))
    else:
        raise FileNotFoundError(f'video list {source!r} is neither a file '
                                'nor a folder')
    seen: Dict[str, str] = {}
    for vid, _, where in entries:
        if not vid or '/' in vid:
            raise FeatureFileError(f'{where}: video id {vid!r} is empty or '
                                   "contains '/'")
        if vid in seen:
            raise FeatureFileError(
                f'{where}: video id {vid!r} is also the id of {seen[vid]}; '
                'give ids explicitly (PATH<TAB>VIDEO_ID) or use key=name')
        seen[vid] = where
    if not entries:
        raise FeatureFileError(f'{source}: no videos listed')
    return [(vid, path) for vid, path, _ in entries]


# --------------------------------------------------------------------------
# parameters
# --------------------------------------------------------------------------
def _params_of(f) -> dict:
    found = {k: int(f.attrs[k]) for k in PARAM_KEYS if k in f.attrs}
    found.update({k: str(f.attrs[k]) for k in ('layout', ) + IDENTITY_KEYS
                  if k in f.attrs})
    return found


def _sha256(path: str, block: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(block), b''):
            digest.update(chunk)
    return digest.hexdigest()


def encoder_identity(checkpoint: Optional[str],
                     seed: Optional[int] = None) -> dict:
    """``{'checkpoint_sha256': ...}`` of the weights features come from.

    The content hash, not the path: a checkpoint re-written at the same
    path (a longer pre-training run) makes earlier features stale. No
    ``checkpoint`` (the random initialisation) gives ``'none'``, or
    ``'none (seed N)'`` when the initialisation's seed is known.
    """
    if not checkpoint:
        return {'checkpoint_sha256': 'none' if seed is None else
                f'none (seed {int(seed)})'}
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint {checkpoint!r} does not exist')
    return {'checkpoint_sha256': _sha256(checkpoint)}


def _check_params(path: str, found: dict, wanted: dict) -> None:
    diff = [f'{k}: file {found[k]!r} vs now {wanted[k]!r}' for k in wanted
            if k in found and found[k] != wanted[k]]
    if diff:
        raise FeatureFileError(
            f'{path} was extracted with other parameters ({"; ".join(diff)})'
            '; write to another file or delete it')


# --------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------
def _write_entry(f, key: str, features: np.ndarray, info: dict,
                 inner: Optional[str]) -> None:
    if inner is None:
        ds = f.create_dataset(key, data=features)
    else:
        ds = f.create_group(key).create_dataset(inner, data=features)
    for name, value in info.items():
        ds.attrs[name] = value


def _write_root_attrs(f, params: dict, meta: Optional[dict]) -> None:
    for name, value in params.items():
        f.attrs[name] = value
    for name, value in (meta or {}).items():
        f.attrs[name] = '' if value is None else str(value)


def _commit_chunk(parts: str, rank: int, seq: int, entries: list,
                  params: dict, inner: Optional[str]) -> None:
    """Write ``entries`` ``[(key, features, info)]`` as one chunk file."""
    import h5py
    final = osp.join(parts, f'rank{rank:03d}-{seq:06d}.h5')
    tmp = final + '.tmp'
    with h5py.File(tmp, 'w') as f:
        _write_root_attrs(f, params, None)
        for key, features, info in entries:
            _write_entry(f, key, features, info, inner)
    os.replace(tmp, final)


def _chunk_files(parts: str) -> List[str]:
    return sorted(p for p in glob.glob(osp.join(parts, 'rank*-*.h5'))
                  if _CHUNK.search(p))


def _done_keys(out: str, parts: str, params: dict, layout: str) -> set:
    import h5py
    done = set()
    for path in ([out] if osp.isfile(out) else []) + _chunk_files(parts):
        try:
            with h5py.File(path, 'r') as f:
                _check_params(path, _params_of(f), params)
                done.update(feature_keys(f, layout))
        except FeatureFileError:
            raise
        except OSError as exc:
            if path == out:
                raise FeatureFileError(
                    f'{out} exists but is not a readable HDF5 file ({exc}); '
                    'delete it or choose another output') from None
            os.remove(path)  # a chunk is renamed only once complete
    return done


def _dist_env() -> Tuple[int, int]:
    return (int(os.environ.get('RANK', 0)),
            int(os.environ.get('WORLD_SIZE', 1)))


class _Barrier:
    """Barriers over torch.distributed; a gloo group is made if needed."""

    def __init__(self, world_size: int) -> None:
        self.active = world_size > 1
        self.own = False
        if not self.active:
            return
        import torch.distributed as dist
        if not dist.is_initialized():
            # ranks may finish their shares hours apart
            dist.init_process_group('gloo', timeout=timedelta(days=7))
            self.own = True

    def wait(self) -> None:
        if self.active:
            import torch.distributed as dist
            dist.barrier()

    def close(self) -> None:
        if self.own:
            import torch.distributed as dist
            dist.destroy_process_group()


def _merge(out: str, parts: str, params: dict, meta: Optional[dict],
           layout: str) -> Tuple[int, int]:
    """Merge ``out`` and the chunks into a new ``out``; returns
    ``(videos in out, duplicates dropped)``."""
    import h5py
    sources = ([out] if osp.isfile(out) else []) + _chunk_files(parts)
    tmp = out + '.tmp'
    written, duplicates = set(), 0
    with h5py.File(tmp, 'w') as dst:
        _write_root_attrs(dst, dict(params, layout=layout), meta)
        for path in sources:  # one open source at a time
            with h5py.File(path, 'r') as src:
                for key in feature_keys(src, layout):
                    if key in written:
                        duplicates += 1
                        continue
                    src.copy(src[key], dst, name=key)
                    written.add(key)
    os.replace(tmp, out)
    return len(written), duplicates


def _write_failures(out: str, parts: str) -> List[list]:
    failures = []
    for path in sorted(glob.glob(osp.join(parts, 'rank*.failed.json'))):
        with open(path, encoding='utf-8') as f:
            failures.extend(json.load(f))
    report = out + '.failed.tsv'
    if failures:
        tmp = report + '.tmp'
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write('video_id\tpath\treason\n')
            for vid, path, reason in failures:
                reason = ' '.join(str(reason).split())
                f.write(f'{vid}\t{path}\t{reason}\n')
        os.replace(tmp, report)
    elif osp.isfile(report):
        os.remove(report)
    return failures


def extract_to_hdf5(extractor,
                    videos: Sequence[Tuple[str, str]],
                    out: str,
                    layout: str = 'activitynet',
                    meta: Optional[dict] = None,
                    rank: Optional[int] = None,
                    world_size: Optional[int] = None,
                    commit_every: int = 16,
                    commit_seconds: float = 60.0,
                    progress: bool = True) -> dict:
    """Extract features of ``videos`` into ``out`` (resumable, see module).

    Args:
        extractor: a :class:`~simvtp.apis.VideoFeatureExtractor` (or any
            object with ``extract(path) -> (features, info)`` and
            ``params()``).
        videos: ``[(video_id, path), ...]`` (:func:`read_video_list`).
        out: the HDF5 file to write.
        layout: see :data:`LAYOUTS`.
        meta: strings stored as root attributes (config, checkpoint, ...).
            With a ``checkpoint`` entry (None: random initialisation) the
            checkpoint's content hash is stored and checked on resume.
        rank, world_size: default: torchrun's ``RANK`` / ``WORLD_SIZE``.
            Rank ``r`` handles the videos at positions ``r, r + W, ...`` of
            the list.
        commit_every, commit_seconds: a chunk is committed after this many
            videos or this many seconds, whichever comes first.
        progress: show a progress bar (rank 0).

    Returns:
        ``dict(done=videos extracted now, skipped=already there,
        failed=[(id, path, reason)] (all ranks, on rank 0), total=ids in
        out)``.
    """
    import h5py
    from tqdm import tqdm
    inner = check_layout(layout)
    env_rank, env_world = _dist_env()
    rank = env_rank if rank is None else int(rank)
    world_size = env_world if world_size is None else int(world_size)
    if not 0 <= rank < world_size:
        raise ValueError(f'rank {rank} not in [0, {world_size})')
    params = {k: int(v) for k, v in extractor.params().items()
              if k in PARAM_KEYS}
    if meta is not None and 'checkpoint' in meta:
        params.update(encoder_identity(meta['checkpoint'],
                                       meta.get('seed')))
    out = osp.abspath(out)
    parts = out + '.parts'
    os.makedirs(parts, exist_ok=True)
    for stale in glob.glob(osp.join(parts, f'rank{rank:03d}-*.tmp')):
        os.remove(stale)  # a chunk this rank was writing when killed
    if osp.isfile(out):
        with h5py.File(out, 'r') as f:
            found = _params_of(f)
        if 'layout' in found and found['layout'] != layout and not (
                LAYOUTS[found['layout']] == inner):
            raise FeatureFileError(f'{out} has layout {found["layout"]!r}, '
                                   f'this run writes {layout!r}')
    barrier = _Barrier(world_size)
    try:
        done = _done_keys(out, parts, params, layout)
        mine = [(vid, path) for i, (vid, path) in enumerate(videos)
                if i % world_size == rank and vid not in done]
        skipped = sum(1 for i, (vid, _) in enumerate(videos)
                      if i % world_size == rank and vid in done)
        seq = 1 + max([int(_CHUNK.search(p).group(2))
                       for p in _chunk_files(parts)
                       if int(_CHUNK.search(p).group(1)) == rank] or [0])
        failures, pending, extracted = [], [], 0
        last_commit = time.monotonic()
        bar = tqdm(total=len(mine), unit='video', desc=f'features r{rank}',
                   disable=not progress or rank != 0, dynamic_ncols=True)
        for i, (vid, path) in enumerate(mine):
            try:
                features, info = extractor.extract(path)
                pending.append((vid, features, info))
            except Exception as exc:  # a broken video must not stop the run
                reason = f'{type(exc).__name__}: {exc}'
                failures.append([vid, path, reason])
                bar.write(f'[features] skipped {vid} ({path}): {reason}')
            bar.update(1)
            last = i == len(mine) - 1
            if pending and (last or len(pending) >= commit_every or
                            time.monotonic() - last_commit >= commit_seconds):
                _commit_chunk(parts, rank, seq, pending, params, inner)
                extracted += len(pending)
                seq, pending = seq + 1, []
                last_commit = time.monotonic()
        bar.close()
        report = osp.join(parts, f'rank{rank:03d}.failed.json')
        with open(report + '.tmp', 'w', encoding='utf-8') as f:
            json.dump(failures, f)
        os.replace(report + '.tmp', report)
        barrier.wait()  # every rank's chunks are committed
        result = dict(done=extracted, skipped=skipped, failed=failures)
        if rank == 0:
            if _chunk_files(parts) or not osp.isfile(out):
                total, duplicates = _merge(out, parts, params, meta, layout)
            else:  # nothing new: keep the file as it is
                with h5py.File(out, 'r') as f:
                    total, duplicates = len(feature_keys(f, layout)), 0
            result['failed'] = _write_failures(out, parts)
            shutil.rmtree(parts, ignore_errors=True)
            result.update(total=total, duplicates=duplicates)
        barrier.wait()  # the merged file is in place for every rank
    finally:
        barrier.close()
    return result


def ensure_features(spec: dict) -> dict:
    """Extract the features a config describes unless they are complete.

    ``spec`` (a config's ``feature_extraction``): ``config``, ``checkpoint``
    (None: the encoder at its random initialisation, seeded by ``seed``),
    ``video_list`` (+ ``video_root``, ``key``), ``out``, ``layout``,
    ``clip_len``, ``frame_interval``, ``stride``, ``batch_size``,
    ``device``, ``transforms``.

    Returns:
        The :func:`extract_to_hdf5` summary, or ``dict(total=n,
        skipped=n)`` when ``out`` already holds every listed video.
    """
    import h5py
    import torch

    from .inference import init_model
    from .video_features import VideoFeatureExtractor

    spec = dict(spec)
    known = {'config', 'checkpoint', 'video_list', 'video_root', 'key', 'out',
             'layout', 'clip_len', 'frame_interval', 'stride', 'batch_size',
             'device', 'transforms', 'seed', 'commit_every'}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise KeyError(f'feature_extraction: unknown key(s) {unknown}; '
                       f'known: {sorted(known)}')
    layout = spec.get('layout', 'activitynet')
    videos = read_video_list(spec['video_list'], spec.get('video_root'),
                             spec.get('key', 'stem'))
    out = spec['out']
    checkpoint = spec.get('checkpoint') or None
    seed = None if checkpoint else int(spec.get('seed', 0))
    if osp.isfile(out) and not osp.isdir(out + '.parts'):
        try:
            with h5py.File(out, 'r') as f:
                have = set(feature_keys(f, layout))
                found = _params_of(f)
        except OSError:
            have, found = set(), {}
        if all(vid in have for vid, _ in videos):
            clip_len = int(spec.get('clip_len', 16))
            interval = int(spec.get('frame_interval', 4))
            wanted = dict(clip_len=clip_len, frame_interval=interval,
                          stride=int(spec.get('stride') or
                                     clip_len * interval))
            if checkpoint is None or osp.isfile(checkpoint):
                # (a missing checkpoint cannot be compared; the file is
                # used as it is)
                wanted.update(encoder_identity(checkpoint, seed))
            _check_params(out, found, wanted)
            return dict(total=len(have), skipped=len(videos), done=0,
                        failed=[])
    if checkpoint and not osp.isfile(checkpoint):
        raise FileNotFoundError(
            f'feature_extraction.checkpoint {checkpoint!r} does not exist. '
            'Pre-train first (python tools/train.py '
            f'{spec["config"]}), or point the config at your checkpoint '
            '(--cfg-options feature_extraction.checkpoint=PATH, or the '
            'environment variable the config reads, e.g. '
            'SIMVTP_PRETRAINED=PATH)')
    torch.manual_seed(int(spec.get('seed', 0)))
    model = init_model(spec['config'], checkpoint or None,
                       device=spec.get('device', 'cpu'))
    extractor = VideoFeatureExtractor(
        model, clip_len=spec.get('clip_len', 16),
        frame_interval=spec.get('frame_interval', 4),
        stride=spec.get('stride'), batch_size=spec.get('batch_size', 8),
        transforms=spec.get('transforms'))
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    return extract_to_hdf5(
        extractor, videos, out, layout=layout,
        meta=dict(config=spec['config'], checkpoint=checkpoint, seed=seed),
        commit_every=spec.get('commit_every', 16))
