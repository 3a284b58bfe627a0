"""A saved video index: features, video names and the model's fingerprint.

Stored as one ``.npz`` file read with ``allow_pickle=False``, so loading a
file runs no code: ``features`` float32 ``(N, D)``, ``names`` unicode
``(N,)`` and ``meta`` a unicode scalar holding JSON (format version,
model fingerprint, config, checkpoint, failures, ...). A file that is not
such an archive, holds pickled objects or inconsistent arrays is refused
with an :class:`IndexFileError` naming the file and the key.
"""
import json
import os
import os.path as osp
import zipfile
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

__all__ = ['SearchIndex', 'IndexFileError', 'INDEX_FORMAT']

INDEX_FORMAT = 'simvtp-video-index/1'
KEYS = ('features', 'names', 'meta')


class IndexFileError(ValueError):
    """An index file is unreadable, unsafe or inconsistent."""


@dataclass
class SearchIndex:
    """Features of a set of videos, ready to be searched.

    Attributes:
        features: ``(N, D)`` float32, L2-normalised rows.
        names: ``N`` video paths (or names) in row order.
        fingerprint: the model + pipeline fingerprint the features were
            made with (:func:`simvtp.apis.encode.model_fingerprint`).
        meta: JSON-serialisable extras (config, checkpoint, failures).
    """
    features: np.ndarray
    names: List[str]
    fingerprint: str
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.features = np.asarray(self.features, dtype=np.float32)
        self.names = [str(n) for n in self.names]
        if self.features.ndim != 2 or len(self.features) != len(self.names):
            raise ValueError(f'features {self.features.shape} and '
                             f'{len(self.names)} names do not match')

    def __len__(self) -> int:
        return len(self.names)

    def save(self, path: str) -> str:
        """Write the index to ``path`` (``.npz`` appended if missing;
        written to a temporary file and renamed). Returns the path."""
        if not path.endswith('.npz'):
            path += '.npz'
        meta = dict(self.meta, format=INDEX_FORMAT,
                    fingerprint=self.fingerprint)
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        tmp = path + '.tmp.npz'
        np.savez(tmp, features=self.features,
                 names=np.array(self.names, dtype=np.str_),
                 meta=np.array(json.dumps(meta, sort_keys=True)))
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str) -> 'SearchIndex':
        """Read an index written by :meth:`save`, never unpickling.

        Raises:
            FileNotFoundError: naming the file.
            IndexFileError: naming the file and what is wrong with it.
        """
        if not osp.isfile(path):
            raise FileNotFoundError(f'index file {path!r} does not exist')
        try:
            archive = np.load(path, allow_pickle=False)
        except (ValueError, OSError, zipfile.BadZipFile) as exc:
            raise IndexFileError(f'{path}: not a simvtp index (.npz) file '
                                 f'({exc})') from None
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise IndexFileError(f'{path}: a single array, not a simvtp '
                                 'index archive (.npz)')
        with archive:
            missing = [k for k in KEYS if k not in archive.files]
            extra = sorted(set(archive.files) - set(KEYS))
            if missing or extra:
                raise IndexFileError(
                    f'{path}: expected the arrays {list(KEYS)}; missing '
                    f'{missing}, unexpected {extra}')
            arrays = {}
            for key in KEYS:
                try:
                    arrays[key] = archive[key]
                except ValueError as exc:  # object arrays need pickle
                    raise IndexFileError(
                        f'{path}: array {key!r} cannot be read without '
                        f'unpickling ({exc}); refused') from None
        features, names, meta = arrays['features'], arrays['names'], \
            arrays['meta']
        if features.dtype.kind != 'f' or features.ndim != 2:
            raise IndexFileError(f"{path}: 'features' must be a float (N, "
                                 f'D) array, got {features.dtype} '
                                 f'{features.shape}')
        if names.dtype.kind != 'U' or names.shape != features.shape[:1]:
            raise IndexFileError(f"{path}: 'names' must be {len(features)} "
                                 f'strings (one per feature row), got '
                                 f'{names.dtype} {names.shape}')
        if not np.isfinite(features).all():
            raise IndexFileError(f"{path}: 'features' has "
                                 f'{int((~np.isfinite(features)).sum())} '
                                 'non-finite values')
        try:
            meta = json.loads(str(meta[()])) if meta.dtype.kind == 'U' \
                and meta.ndim == 0 else None
        except json.JSONDecodeError:
            meta = None
        if not isinstance(meta, dict) or meta.get('format') != INDEX_FORMAT:
            raise IndexFileError(f"{path}: 'meta' must be a JSON object "
                                 f'with format {INDEX_FORMAT!r}')
        fingerprint = meta.pop('fingerprint', None)
        meta.pop('format')
        if not isinstance(fingerprint, str) or not fingerprint:
            raise IndexFileError(f"{path}: 'meta' has no model fingerprint")
        return cls(features, names.tolist(), fingerprint, meta)

    def check_model(self, fingerprint: str, path: Optional[str] = None
                    ) -> None:
        """Raise :class:`IndexFileError` unless the index was made by the
        model + pipeline whose fingerprint is ``fingerprint``."""
        if fingerprint != self.fingerprint:
            where = path or 'the index'
            made = self.meta.get('checkpoint') or 'another model'
            raise IndexFileError(
                f'{where} was built with another model or pipeline '
                f'(fingerprint {self.fingerprint}, made with {made} / '
                f'{self.meta.get("config")}) than the one loaded now '
                f'({fingerprint}); rebuild the index, or load it with '
                'check_model=False to search it anyway')
