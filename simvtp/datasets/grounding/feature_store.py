"""Reading per-clip video features from HDF5, in 2D-TAN's layouts.

* ``'activitynet'``: ``f[video_id]['c3d_features']``
  (``sub_activitynet_v1-3.c3d.hdf5``);
* ``'charades'``, ``'tacos'`` (alias ``'flat'``): ``f[video_id]``
  (``{type}_features.hdf5``, ``tall_c3d_features.hdf5``);

each ``(num_clips, D)``. :class:`FeatureStore` opens the file lazily in each
process (h5py handles must not cross a fork), checks it up front, and
explains the usual mistakes: a missing, empty or non-HDF5 file, the other
layout, ids that differ from the annotations' by a prefix or extension.
"""
import os
import os.path as osp
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

__all__ = ['LAYOUTS', 'FeatureFileError', 'feature_keys', 'read_features',
           'FeatureStore', 'average_to_fixed_length']

#: layout name -> dataset name inside each video's group (None: flat)
LAYOUTS: Dict[str, Optional[str]] = {
    'activitynet': 'c3d_features',
    'charades': None,
    'tacos': None,
    'flat': None,
}

EXTRACT_HINT = ('extract features with tools/analysis_tools/'
                'extract_features.py CONFIG CHECKPOINT VIDEO_LIST {path} '
                '--layout {layout}')


class FeatureFileError(ValueError):
    """A feature file is unusable; the message says why and what to do."""


def check_layout(layout: str) -> Optional[str]:
    """The inner dataset name of ``layout`` (None: flat)."""
    if layout not in LAYOUTS:
        raise ValueError(f'unknown feature layout {layout!r}; choose one of '
                         f'{sorted(LAYOUTS)}')
    return LAYOUTS[layout]


def feature_keys(f, layout: str) -> List[str]:
    """Video ids with a feature array in ``layout`` in an open h5py file."""
    inner = check_layout(layout)
    keys = []
    for k in f.keys():
        obj = f[k]
        if inner is None:
            if hasattr(obj, 'shape'):
                keys.append(k)
        elif not hasattr(obj, 'shape') and inner in obj:
            keys.append(k)
    return keys


def read_features(f, key: str, layout: str) -> np.ndarray:
    """``(num_clips, D)`` array of ``key``, indexed as 2D-TAN does."""
    inner = check_layout(layout)
    return f[key][inner][:] if inner else f[key][:]


def average_to_fixed_length(features: np.ndarray,
                            num_samples: int) -> np.ndarray:
    """Resample ``(n, D)`` features to ``(num_samples, D)`` by averaging.

    Bin ``i`` averages features ``round(i * n / S) .. round((i + 1) * n /
    S) - 1``; a bin that receives none (``n < S``) takes the feature at its
    start. 2D-TAN's version clamps the last edge to ``n - 1`` and so never
    averages the last feature in; here every feature is used.
    """
    n = len(features)
    if n == 0:
        raise ValueError('no features to resample')
    edges = np.round(np.arange(num_samples + 1) * n / num_samples).astype(
        np.int64)
    csum = np.concatenate([np.zeros((1, features.shape[1])),
                           np.cumsum(features, axis=0, dtype=np.float64)])
    counts = edges[1:] - edges[:-1]
    sums = csum[edges[1:]] - csum[edges[:-1]]
    single = features[np.minimum(edges[:-1], n - 1)]
    out = np.where(counts[:, None] > 0,
                   sums / np.maximum(counts, 1)[:, None], single)
    return out.astype(np.float32)


def _suggest(missing: Sequence[str], keys: Sequence[str]) -> str:
    """How annotation ids and file keys differ, if a simple rule maps them."""
    keyset = set(keys)
    rules = []
    sample = list(missing)[:200]
    exts = {osp.splitext(k)[1] for k in keys if osp.splitext(k)[1]}
    candidates = [('v_' + '{}', lambda v: 'v_' + v),
                  ('{} without its v_ prefix',
                   lambda v: v[2:] if v.startswith('v_') else None),
                  ('{} without its extension',
                   lambda v: osp.splitext(v)[0] if osp.splitext(v)[1]
                   else None)]
    for ext in sorted(exts):
        candidates.append((f'{{}}{ext}', lambda v, e=ext: v + e))
    for name, rule in candidates:
        mapped = [rule(v) for v in sample]
        hits = sum(1 for m in mapped if m is not None and m in keyset)
        if hits >= max(1, len(sample) // 2):
            rules.append(name)
    if rules:
        return (f'; the file\'s keys match the annotation ids written as '
                f'{rules[0]!r}: set feature_key_format accordingly (e.g. '
                "'v_{}') or re-extract with matching ids")
    return ''


class FeatureStore:
    """Lazy, validated access to one feature file.

    Args:
        path: the HDF5 file.
        layout: see :data:`LAYOUTS`.
        key_format: maps an annotation's video id to its key in the file
            (``'{}'``: the same; ``'v_{}'``, ``'{}.avi'``, ...).
    """

    def __init__(self, path: str, layout: str = 'activitynet',
                 key_format: str = '{}') -> None:
        self.inner = check_layout(layout)
        self.path = path
        self.layout = layout
        self.key_format = key_format
        self._file = None
        self._pid = None

    def key(self, video_id: str) -> str:
        return self.key_format.format(video_id)

    def _open(self):
        if self._file is None or self._pid != os.getpid():
            import h5py
            self._file = h5py.File(self.path, 'r')
            self._pid = os.getpid()
        return self._file

    def __getstate__(self):
        state = self.__dict__.copy()
        state['_file'] = state['_pid'] = None
        return state

    def check(self, video_ids: Iterable[str], where: str) -> Tuple[
            List[str], int]:
        """Validate the file for ``video_ids``.

        Returns:
            ``(ids without features, feature width D)``.

        Raises:
            FileNotFoundError, FeatureFileError: naming the file (and
            ``where``, the annotation file) with the likely fix.
        """
        import h5py
        hint = EXTRACT_HINT.format(path=self.path, layout=self.layout)
        if not osp.isfile(self.path):
            raise FileNotFoundError(f'feature file {self.path!r} (for '
                                    f'{where}) does not exist; {hint}')
        if osp.getsize(self.path) == 0:
            raise FeatureFileError(f'feature file {self.path} is empty (0 '
                                   f'bytes; an interrupted copy?); {hint}')
        try:
            f = h5py.File(self.path, 'r')
        except OSError as exc:
            raise FeatureFileError(f'feature file {self.path} is not a '
                                   f'readable HDF5 file ({exc}); {hint}') \
                from None
        with f:
            names = list(f.keys())
            if not names:
                raise FeatureFileError(f'feature file {self.path} holds no '
                                       f'features; {hint}')
            keys = feature_keys(f, self.layout)
            if not keys:
                other = 'activitynet' if self.inner is None else 'charades'
                if feature_keys(f, other):
                    shape = ("f[vid]['c3d_features']" if self.inner is None
                             else 'f[vid]')
                    raise FeatureFileError(
                        f'feature file {self.path} stores features as '
                        f'{shape} (layout {other!r}), not in the '
                        f'{self.layout!r} layout; set feature_layout='
                        f"'{other}' or re-extract with --layout "
                        f'{self.layout}')
                raise FeatureFileError(
                    f'feature file {self.path} has entries (e.g. '
                    f'{names[:3]}) but none in the {self.layout!r} layout')
            keyset = set(keys)
            ids = list(dict.fromkeys(video_ids))
            missing = [v for v in ids if self.key(v) not in keyset]
            if len(missing) == len(ids):
                raise FeatureFileError(
                    f'none of the {len(ids)} videos of {where} has features '
                    f'in {self.path} (annotation ids look like '
                    f'{ids[:3]}, with key_format {self.key_format!r} '
                    f'{[self.key(v) for v in ids[:3]]}; the file\'s keys '
                    f'look like {sorted(keys)[:3]})'
                    f'{_suggest([self.key(v) for v in missing], keys)}')
            dims = set()
            for vid in ids:
                if vid in missing:
                    continue
                ds = f[self.key(vid)]
                ds = ds[self.inner] if self.inner else ds
                if len(ds.shape) != 2 or ds.shape[0] == 0:
                    raise FeatureFileError(
                        f'{self.path}: features of {self.key(vid)!r} have '
                        f'shape {ds.shape}, expected (num_clips > 0, D)')
                dims.add(int(ds.shape[1]))
            if len(dims) > 1:
                raise FeatureFileError(f'{self.path}: videos have features '
                                       f'of different widths {sorted(dims)}')
        return missing, dims.pop()

    def get(self, video_id: str) -> np.ndarray:
        """``(num_clips, D)`` float32 of ``video_id``."""
        f = self._open()
        return np.asarray(read_features(f, self.key(video_id), self.layout),
                          dtype=np.float32)
