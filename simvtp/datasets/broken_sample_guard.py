"""A dataset wrapper that keeps broken samples from ending a run.

:class:`BrokenSampleGuard` wraps any index-based dataset (simvtp's readers,
mmaction2's ``VideoDataset``, ...), in the style of mmengine's
``RepeatDataset``::

    train_dataloader = dict(dataset=dict(
        type='BrokenSampleGuard',
        dataset=dict(type='WebVidDataset', ann_file=..., pipeline=...)))

What counts as a broken sample is decided by the exception, never by the
names of pipeline steps (:func:`is_data_error`): a missing, empty, truncated
or non-video file (``OSError``, errors raised inside a video decoding
library), or a sample its dataset refuses (:class:`BrokenSampleError`, e.g.
an empty caption). Any other exception, such as a ``TypeError`` or
``KeyError`` from a misconfigured transform, stops the run with its own
traceback: replacing it would silently train on other data.

* Training: the sample is replaced by another one, chosen from
  ``(resample_seed, index, attempt)`` so a resumed run sees the same data;
  the failure is logged once per path (per process) and recorded in the
  packed sample's metainfo as ``replaced=[(path, reason), ...]``, which
  :class:`~simvtp.engine.hooks.DataHealthHook` counts in the main process.
* Test / validation (``dataset.test_mode``): nothing is replaced, so the
  set keeps its size and order. The broken item runs through its own
  pipeline with a placeholder video in place of its file (random frames
  seeded by the index, so no two placeholders tie in a retrieval ranking),
  and is flagged ``broken=True`` with ``broken_reason`` / ``broken_path``.
"""
import atexit
import logging
import os
import os.path as osp
import shutil
import tempfile
import traceback
from typing import Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from ..registry import DATASETS
from .sample_marks import BrokenSampleError, describe_failure, mark

#: top-level packages whose exceptions mean "this file cannot be decoded"
READER_PACKAGES = ('decord', 'av', 'cv2', 'torchcodec', 'PIL', 'imageio')


def is_data_error(exc: BaseException) -> bool:
    """Whether ``exc`` says the sample's data is unusable (not a bug).

    True for :class:`BrokenSampleError`, ``OSError`` / ``EOFError`` (missing,
    unreadable or truncated files) and any exception raised from inside a
    video decoding library (:data:`READER_PACKAGES`; decord, for instance,
    raises a plain ``RuntimeError`` for a file that is not a video).
    """
    if isinstance(exc, (BrokenSampleError, OSError, EOFError)):
        return True
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        module = frame.f_globals.get('__name__', '') or ''
        if module.split('.', 1)[0] in READER_PACKAGES:
            return True
    return False


@DATASETS.register_module()
class BrokenSampleGuard:
    """Replace (training) or flag (testing) samples that cannot be read.

    Args:
        dataset: the wrapped dataset or its config.
        max_read_attempts: in training, how many samples to try for one
            index (the sample itself, then replacements) before giving up
            with a :class:`BrokenSampleError`.
        resample_seed: seeds the choice of replacements, together with the
            index and the attempt number.
        placeholder_size: ``(H, W)`` of a test-mode placeholder video,
            before the pipeline's resize/crop.
        placeholder_frames: frames of a placeholder video (the samplers
            loop a short video).
        filename_key: the data-info key holding the video path (mmaction2's
            ``'filename'``).
        lazy_init: as mmengine's wrappers.
    """

    def __init__(self,
                 dataset: Union[BaseDataset, dict],
                 max_read_attempts: int = 10,
                 resample_seed: int = 0,
                 placeholder_size: Sequence[int] = (256, 256),
                 placeholder_frames: int = 8,
                 filename_key: str = 'filename',
                 lazy_init: bool = False,
                 **unexpected) -> None:
        if unexpected:
            keys = ', '.join(sorted(unexpected))
            raise TypeError(
                f'BrokenSampleGuard got {keys}: these are settings of the '
                f'wrapped dataset; set them one level down, e.g. '
                f'<loader>.dataset.dataset.{sorted(unexpected)[0]}=...')
        if int(max_read_attempts) < 1:
            raise ValueError(f'max_read_attempts must be >= 1, got '
                             f'{max_read_attempts}')
        if isinstance(dataset, dict):
            dataset = DATASETS.build(dataset)
        self.dataset = dataset
        self.max_read_attempts = int(max_read_attempts)
        self.resample_seed = int(resample_seed)
        self.placeholder_size = tuple(int(v) for v in placeholder_size)
        self.placeholder_frames = int(placeholder_frames)
        self.filename_key = filename_key
        self._reported = set()  # paths already logged by this process
        self._placeholder_dir: Optional[str] = None
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    # ------------------------------------------------- dataset interface
    @property
    def metainfo(self) -> dict:
        return getattr(self.dataset, 'metainfo', {})

    @property
    def test_mode(self) -> bool:
        return bool(getattr(self.dataset, 'test_mode', False))

    @property
    def pipeline(self):
        return self.dataset.pipeline

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        if hasattr(self.dataset, 'full_init'):
            self.dataset.full_init()
        self._fully_initialized = True

    def get_data_info(self, idx: int) -> dict:
        return self.dataset.get_data_info(idx)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getattr__(self, name: str):
        # reader-specific attributes (ann_file, num_videos, table, ...)
        if name == 'dataset':  # not set yet: avoid recursion
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __getitem__(self, idx: int):
        if self.test_mode:
            return self._test_item(idx)
        failures = []
        current = idx
        for attempt in range(self.max_read_attempts):
            try:
                data = self.dataset[current]
                if data is None:
                    raise BrokenSampleError('the pipeline returned None')
            except Exception as exc:
                if not is_data_error(exc):
                    raise
                path = self._path_of(current)
                reason = describe_failure(exc, path)
                failures.append((path, reason))
                nxt = self._replacement(idx, attempt)
                self._report(path, f'sample {current} ({path}) cannot be '
                             f'used: {reason}; reading sample {nxt} instead')
                current = nxt
                continue
            if failures:
                mark(data, replaced=failures)
            return data
        shown = '; '.join(f'{p}: {r}' for p, r in failures[:5])
        name = getattr(self.dataset, 'ann_file', type(self.dataset).__name__)
        raise BrokenSampleError(
            f'{type(self.dataset).__name__}({name}): sample {idx} and '
            f'{len(failures) - 1} replacement(s) could not be read '
            f'(max_read_attempts={self.max_read_attempts}): {shown}. Nearly '
            'every sample seems broken: check data_prefix.video / data_root '
            '(where the videos are), the annotation columns or '
            'video_template (how rows map to paths), and read permissions. '
            'tools/data/check_videos.py ANN DATA_ROOT lists the broken rows.')

    # ---------------------------------------------------------- training
    def _replacement(self, idx: int, attempt: int) -> int:
        """Deterministic in ``(resample_seed, idx, attempt)``, never idx."""
        n = len(self)
        if n < 2:
            return idx
        rng = np.random.default_rng([self.resample_seed, idx, attempt])
        j = int(rng.integers(n - 1))
        return j if j < idx else j + 1

    def _path_of(self, idx: int) -> str:
        try:
            info = self.dataset.get_data_info(idx)
        except Exception:  # pragma: no cover - defensive
            return f'<sample {idx}>'
        return str(info.get(self.filename_key, f'<sample {idx}>'))

    def _report(self, path: str, message: str) -> None:
        """Log ``message`` once per ``path`` in this process."""
        if path in self._reported:
            return
        self._reported.add(path)
        print_log(f'{type(self.dataset).__name__}: {message}',
                  logger='current', level=logging.WARNING)

    # --------------------------------------------------------------- test
    def _test_item(self, idx: int):
        try:
            data = self.dataset[idx]
            if data is None:
                raise BrokenSampleError('the pipeline returned None')
            return data
        except Exception as exc:
            if not is_data_error(exc):
                raise
            path = self._path_of(idx)
            reason = describe_failure(exc, path)
        self._report(path, f'test sample {idx} ({path}) cannot be read: '
                     f'{reason}; it is evaluated on a placeholder video and '
                     'counted as broken')
        try:
            info = self.dataset.get_data_info(idx)
            info[self.filename_key] = self._placeholder(idx)
            data = self.dataset.pipeline(info)
            if data is None:
                raise BrokenSampleError('the pipeline returned None')
        except Exception as exc:
            raise BrokenSampleError(
                f'test sample {idx} ({path}) cannot be read ({reason}), and '
                f'no placeholder could be built for it: '
                f'{type(exc).__name__}: {exc}') from exc
        mark(data, broken=True, broken_reason=reason, broken_path=path)
        return data

    def _placeholder(self, idx: int) -> str:
        """A small video of random frames seeded by ``idx`` (cached)."""
        if self._placeholder_dir is None:
            self._placeholder_dir = tempfile.mkdtemp(
                prefix='simvtp-placeholders-')
            atexit.register(shutil.rmtree, self._placeholder_dir,
                            ignore_errors=True)
        path = osp.join(self._placeholder_dir,
                        f'{self.resample_seed}_{idx}.mp4')
        if not osp.isfile(path):
            height, width = self.placeholder_size
            frames = np.random.default_rng(
                [self.resample_seed, idx]).integers(
                    0, 256, (self.placeholder_frames, height, width, 3),
                    dtype=np.uint8)
            _write_video(path, frames)
        return path

    def __getstate__(self):  # dataloader workers make their own folder
        state = self.__dict__.copy()
        state['_placeholder_dir'] = None
        return state

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(dataset={self.dataset!r}, '
                f'max_read_attempts={self.max_read_attempts}, '
                f'resample_seed={self.resample_seed})')


def _write_video(path: str, frames: np.ndarray, fps: float = 10.0) -> None:
    """``(T, H, W, 3)`` uint8 RGB frames -> an mp4 (MPEG-4 Part 2) file."""
    import cv2
    tmp = path[:-len('.mp4')] + f'.{os.getpid()}.tmp.mp4'
    height, width = frames.shape[1:3]
    writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*'mp4v'), fps,
                             (width, height))
    if not writer.isOpened():
        raise RuntimeError('OpenCV cannot write mp4 placeholder videos')
    try:
        for frame in frames:
            writer.write(frame[..., ::-1].copy())
    finally:
        writer.release()
    os.replace(tmp, path)
