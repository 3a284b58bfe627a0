"""Base class for video-caption datasets read from annotation files.

Every reader turns its file format into a flat stream of ``(video, caption)``
pairs; this class stores them in a :class:`~.caption_table.CaptionTable`
(a few numpy arrays, no Python object per pair, shared copy-on-write by
dataloader workers) and hands out mmaction-style data infos (``filename``,
``text``, ``video_id``, ``text_id``) that DecordInit and the text transforms
consume.

Broken samples (a missing, empty, truncated or non-video file, undecodable
frames, an empty caption, or any exception the pipeline raises for one
sample) never stop training: :meth:`VideoTextPairDataset.__getitem__` catches
the failure and reads another sample instead, chosen from
``(resample_seed, index, attempt)`` so a resumed run sees the same data. Each
replacement is logged once per path (per process) and recorded in the packed
sample's metainfo as ``replaced=[(path, reason), ...]``; dataloader workers
are separate processes, so :class:`~simvtp.engine.hooks.DataHealthHook`
counts these marks in the main process and stops training when too many
reads fail. In ``test_mode`` nothing is replaced (the test set keeps its size
and order): an unreadable sample becomes placeholder frames plus its caption,
flagged ``broken=True`` with ``broken_reason`` and ``broken_path``. The
placeholder is a fixed random frame seeded by the index, not black: identical
black clips would have identical features, and mmaction's RetrievalMetric
counts every tie as a hit, which inflates its denominator.
"""
import logging
import os
import os.path as osp
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmaction.datasets import BaseActionDataset
from mmengine.fileio import exists
from mmengine.logging import print_log

from .caption_table import CaptionTable, CaptionTableBuilder


class AnnotationError(ValueError):
    """A malformed annotation; the message names the file and the row/key."""


class BrokenSampleError(RuntimeError):
    """A sample that cannot be used, or a dataset that has too many of them."""


# loading steps replaced by placeholder frames in test mode
_INIT_STEPS = ('DecordInit', 'PyAVInit', 'OpenCVInit')
_DECODE_STEPS = ('DecordDecode', 'PyAVDecode', 'OpenCVDecode',
                 'RawFrameDecode')
# share of [UNK] among a caption's word tokens that is worth a warning
UNK_WARNING_RATIO = 0.5


class VideoTextPairDataset(BaseActionDataset):
    """Video-caption pairs; subclasses implement :meth:`read_pairs`.

    Args:
        ann_file: the annotation file.
        pipeline: the data pipeline.
        data_prefix: ``dict(video=root)``; relative video paths are joined
            to it, absolute ones are kept.
        per_video: if True, one item per video holding every caption
            (``text`` is a list; retrieval evaluation); if False (default), one
            item per (video, caption) pair (training).
        max_pairs: keep only the first ``max_pairs`` items (quick runs).
        max_read_attempts: in training, how many samples to try for one
            index (the sample itself, then replacements) before giving up
            with a :class:`BrokenSampleError`.
        resample_seed: seeds the choice of replacements, together with the
            index and the attempt number.
        placeholder_size: ``(H, W)`` of the frames of a test-mode
            placeholder, before the pipeline's resize/crop.
        **kwargs: forwarded to :class:`mmaction.datasets.BaseActionDataset`.
    """

    def __init__(self,
                 ann_file: str,
                 pipeline: List[Union[dict, Callable]] = [],
                 data_prefix: Dict = dict(video=''),
                 per_video: bool = False,
                 max_pairs: Optional[int] = None,
                 max_read_attempts: int = 10,
                 resample_seed: int = 0,
                 placeholder_size: Tuple[int, int] = (256, 256),
                 **kwargs) -> None:
        if int(max_read_attempts) < 1:
            raise ValueError(f'max_read_attempts must be >= 1, got '
                             f'{max_read_attempts}')
        self.per_video = per_video
        self.max_pairs = max_pairs
        self.max_read_attempts = int(max_read_attempts)
        self.resample_seed = int(resample_seed)
        self.placeholder_size = tuple(int(v) for v in placeholder_size)
        self._reported = set()  # paths already logged by this process
        self._unk_id = None  # -1: no tokenizer in the pipeline
        super().__init__(
            ann_file, pipeline=pipeline, data_prefix=data_prefix, **kwargs)

    def read_pairs(self) -> Iterable[Tuple[str, str]]:
        """Yield ``(video path, caption)`` in file order."""
        raise NotImplementedError(
            f'{type(self).__name__} must implement read_pairs()')

    def _video_path(self, video: str) -> str:
        root = self.data_prefix.get('video', '') or ''
        return video if osp.isabs(video) or not root else osp.join(root, video)

    def load_table(self) -> CaptionTable:
        """Read the annotation file into a :class:`CaptionTable`."""
        if not exists(self.ann_file):
            raise FileNotFoundError(
                f'annotation file {self.ann_file!r} does not exist')
        builder = CaptionTableBuilder(self.per_video, self.max_pairs)
        for video, caption in self.read_pairs():
            # stored as written (the data root is joined per item: saves
            # len(root) bytes per row)
            if not builder.add(video, caption):
                break
        table = builder.build()
        if not len(table):
            raise AnnotationError(
                f'{self.ann_file}: no video-caption pairs found')
        return table

    def full_init(self) -> None:
        """Load the annotations into a compact table (see
        :mod:`~simvtp.datasets.caption_table`); ``serialize_data`` is not
        needed: the table is already a few numpy arrays that forked workers
        share."""
        if self._fully_initialized:
            return
        table = self.load_table()
        self.num_videos, self.num_texts = table.num_videos, table.num_texts
        if self._indices is not None:
            table = table.subset(self._indices)
        self.table = table
        self._fully_initialized = True

    def load_data_list(self) -> List[dict]:
        """Every item's info dict (for tools on small files; training reads
        items through :meth:`get_data_info` instead)."""
        return [self.get_data_info(i) for i in range(len(self))]

    def get_data_info(self, idx: int) -> dict:
        if not self._fully_initialized:
            self.full_init()
        info = self.table.info(idx)
        info['filename'] = self._video_path(info['filename'])
        info['sample_idx'] = idx if idx >= 0 else len(self) + idx
        info['modality'] = self.modality
        info['start_index'] = self.start_index
        return info

    def __len__(self) -> int:
        if not self._fully_initialized:
            self.full_init()
        return len(self.table)

    def get_subset_(self, indices: Union[Sequence[int], int]) -> None:
        if not self._fully_initialized:
            self.full_init()
        self.table = self.table.subset(indices)

    # ------------------------------------------------------ broken samples
    def __getitem__(self, idx: int) -> dict:
        if not self._fully_initialized:
            self.full_init()
        if self.test_mode:
            return self._test_item(idx)
        failures = []
        current = idx
        for attempt in range(self.max_read_attempts):
            try:
                data = self._prepare_checked(current)
                if data is None:
                    raise BrokenSampleError('the pipeline returned None')
            except Exception as exc:  # one sample must not end training
                path = self._path_of(current)
                reason = describe_failure(exc, path)
                failures.append((path, reason))
                nxt = self._replacement(idx, attempt)
                self._report(path, f'sample {current} ({path}) cannot be '
                             f'used: {reason}; reading sample {nxt} instead')
                current = nxt
                continue
            if failures:
                _mark(data, replaced=failures)
            return data
        shown = '; '.join(f'{p}: {r}' for p, r in failures[:5])
        raise BrokenSampleError(
            f'{type(self).__name__}({self.ann_file}): sample {idx} and '
            f'{len(failures) - 1} replacement(s) could not be read '
            f'(max_read_attempts={self.max_read_attempts}): {shown}. Nearly '
            'every sample seems broken: check data_prefix.video / data_root '
            '(where the videos are), the annotation columns or '
            'video_template (how rows map to paths), and read permissions; '
            'if every reason is the same error of one transform, the '
            'pipeline config is at fault. tools/data/check_videos.py ANN '
            'DATA_ROOT lists the broken rows.')

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
            info = self.get_data_info(idx)
        except Exception:  # pragma: no cover - defensive
            return f'<sample {idx}>'
        return str(info.get('filename', f'<sample {idx}>'))

    def _report(self, path: str, message: str) -> None:
        """Log ``message`` once per ``path`` in this process."""
        if path in self._reported:
            return
        self._reported.add(path)
        print_log(f'{type(self).__name__}: {message}', logger='current',
                  level=logging.WARNING)

    def _prepare_checked(self, idx: int):
        """:meth:`prepare_data` plus caption checks."""
        info = self.get_data_info(idx)
        text = info.get('text')
        captions = [text] if isinstance(text, str) else (text or [])
        if not captions or any(isinstance(c, str) and not c.strip()
                               for c in captions):
            raise BrokenSampleError('empty or whitespace-only caption')
        data = self.pipeline(info)
        if data is not None:
            self._check_unknown_words(data, str(info.get('filename', idx)))
        return data

    def _check_unknown_words(self, data, path: str) -> None:
        """Warn (not fail) when most caption tokens are [UNK]."""
        inputs = data.get('inputs') if isinstance(data, dict) else None
        if not isinstance(inputs, dict):
            return
        ids = inputs.get('input_ids_unmasked', inputs.get('input_ids'))
        if ids is None or np.asarray(ids).ndim != 1 or \
                self._unknown_id() < 0:  # (per-video items: not checked)
            return
        words = np.asarray(ids).reshape(-1)[1:-1]  # [CLS] ... [SEP]
        if not words.size:
            return
        unknown = int((words == self._unk_id).sum())
        if unknown and unknown >= UNK_WARNING_RATIO * words.size:
            reason = (f'{unknown} of {words.size} caption tokens are [UNK] '
                      '(a script or words the tokenizer does not know)')
            _mark(data, data_warnings=[(path, reason)])
            self._report(path, f'{path}: {reason}')

    def _unknown_id(self) -> int:
        if self._unk_id is None:
            self._unk_id = -1
            for t in getattr(self.pipeline, 'transforms', []):
                tok = getattr(t, 'tokenizer', None)
                if tok is not None and getattr(tok, 'unk_token_id',
                                               None) is not None:
                    self._unk_id = int(tok.unk_token_id)
                    break
        return self._unk_id

    def _test_item(self, idx: int):
        """Test mode never replaces: placeholder frames + caption, flagged."""
        try:
            data = self._prepare_checked(idx)
            if data is None:
                raise BrokenSampleError('the pipeline returned None')
            return data
        except Exception as exc:
            path = self._path_of(idx)
            reason = describe_failure(exc, path)
        self._report(path, f'test sample {idx} ({path}) cannot be read: '
                     f'{reason}; it is evaluated on placeholder frames and '
                     'counted as broken')
        try:
            data = self._placeholder(idx)
        except Exception as exc:
            raise BrokenSampleError(
                f'test sample {idx} ({path}) cannot be read ({reason}), and '
                f'no placeholder could be built for it: '
                f'{type(exc).__name__}: {exc}') from exc
        _mark(data, broken=True, broken_reason=reason, broken_path=path)
        return data

    def _placeholder(self, idx: int):
        """Run the pipeline with a fixed random frame instead of the video."""
        results = self.get_data_info(idx)
        height, width = self.placeholder_size
        frame = np.random.default_rng([self.resample_seed, idx]).integers(
            0, 256, (height, width, 3), dtype=np.uint8)
        for t in getattr(self.pipeline, 'transforms', []):
            name = type(t).__name__
            if name in _INIT_STEPS:
                results.update(total_frames=1, avg_fps=30.0,
                               video_reader=None)
            elif name in _DECODE_STEPS:
                count = int(np.asarray(results['frame_inds']).size)
                results['imgs'] = [frame.copy() for _ in range(count)]
                results['original_shape'] = (height, width)
                results['img_shape'] = (height, width)
            else:
                results = t(results)
                if results is None:
                    raise BrokenSampleError(f'{name} returned None')
        return results


def _mark(data, **meta) -> None:
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


def check_caption(caption, ann_file: str, where: str) -> str:
    """Return a stripped caption or raise naming the file and row/key."""
    if not isinstance(caption, str):
        raise AnnotationError(
            f'{ann_file}: {where}: caption must be a string, got '
            f'{type(caption).__name__} {caption!r}')
    return caption.strip()


def captions_of(value, ann_file: str, where: str) -> Sequence[str]:
    """A caption field that may hold one string or a list of strings."""
    if isinstance(value, str):
        return [check_caption(value, ann_file, where)]
    if isinstance(value, (list, tuple)) and value:
        return [check_caption(v, ann_file, f'{where}[{i}]')
                for i, v in enumerate(value)]
    raise AnnotationError(
        f'{ann_file}: {where}: expected a caption string or a non-empty list '
        f'of captions, got {value!r}')
