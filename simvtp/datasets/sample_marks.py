"""How a sample reports that it is broken or suspicious, and why.

A packed sample (``dict(inputs=..., data_samples=ActionDataSample)``)
carries these metainfo fields, read by
:class:`~simvtp.engine.hooks.DataHealthHook` and ``tools/test.py``:

* ``replaced``: ``[(path, reason), ...]`` reads that failed before this
  sample was read in their place (training);
* ``data_warnings``: ``[(path, reason), ...]`` usable but suspicious data
  (a caption of mostly [UNK] tokens, an empty test caption);
* ``broken`` / ``broken_reason`` / ``broken_path``: a test item evaluated on
  a placeholder video.
"""
import os
import os.path as osp
from typing import Optional


class BrokenSampleError(RuntimeError):
    """A sample that cannot be used, or a dataset that has too many of them."""


def mark(data, **meta) -> None:
    """Record ``meta`` in the packed data sample (or the results dict)."""
    sample = data.get('data_samples') if isinstance(data, dict) else None
    if sample is not None and hasattr(sample, 'set_metainfo'):
        for key, value in meta.items():
            if isinstance(value, list) and key in sample.metainfo:
                value = list(sample.metainfo[key]) + value
            sample.set_metainfo({key: value})
    elif isinstance(data, dict):
        for key, value in meta.items():
            if isinstance(value, list) and key in data:
                value = list(data[key]) + value
            data[key] = value


def describe_failure(exc: BaseException, path: Optional[str] = None) -> str:
    """A short reason for a failed sample; stats the file only on failure."""
    if isinstance(exc, BrokenSampleError):
        return str(exc)
    if isinstance(exc, FileNotFoundError):
        return 'missing file'
    if isinstance(exc, PermissionError):
        return 'no read permission'
    if isinstance(exc, IsADirectoryError):
        return 'is a directory, not a video file'
    lines = str(exc).strip().splitlines()
    message = ' '.join(lines[0].split())[:200] if lines else ''
    if path and osp.isfile(path):
        try:
            if os.path.getsize(path) == 0:
                return 'empty file (0 bytes)'
        except OSError:
            pass
    elif path and '://' not in path and not osp.exists(path):
        return 'missing file'
    kind = type(exc).__name__
    if 'decord' in type(exc).__module__ or message.startswith(
            ('Error reading', 'ERROR opening')):
        return f'unreadable video ({kind}: {message})'
    return f'{kind}: {message}'
