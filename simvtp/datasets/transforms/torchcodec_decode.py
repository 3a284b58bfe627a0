"""Decoding with torchcodec instead of decord.

decord, what mmaction2's ``DecordInit`` / ``DecordDecode`` use, is no
longer maintained; torchcodec (PyTorch's decoder, on FFmpeg's shared
libraries) decodes on CPUs and, built with CUDA, on NVDEC. The two steps
here are drop-in replacements for the decord pair in any pipeline::

    dict(type='TorchCodecInit'),          # instead of DecordInit
    dict(type='SampleFrames', ...),       # unchanged
    dict(type='TorchCodecDecode'),        # instead of DecordDecode

:class:`TorchCodecInit` puts a :class:`TorchCodecReader` in
``results['video_reader']``; it answers the calls the toolkit's own steps
make on a decord reader (``len``, ``get_avg_fps``, ``get_batch``,
``get_key_indices``), so ``KeyframeSampleFrames`` and ``MultiClipDecode``
work with either decoder. :func:`decode_frames` is the one place that turns
a reader and frame indices into an ``(N, H, W, 3)`` uint8 array.

Install: ``bash tools/install.sh --torchcodec`` (the torchcodec release
built for the installed torch, CPU wheel from PyPI; FFmpeg 4-7 shared
libraries from the system, e.g. Debian's ``libavcodec59``, or conda-forge's
``ffmpeg``). Frames agree with decord's to within colour-conversion
rounding (both are FFmpeg underneath; tested).
"""
import io
import os.path as osp
from typing import Dict, Optional, Sequence

import numpy as np
from mmcv.transforms import BaseTransform

from ...registry import TRANSFORMS

__all__ = ['TorchCodecReader', 'TorchCodecInit', 'TorchCodecDecode',
           'decode_frames', 'with_torchcodec']

SEEK_MODES = ('exact', 'approximate')


def _import_torchcodec():
    try:
        from torchcodec.decoders import VideoDecoder
    except (ImportError, OSError, RuntimeError) as err:
        # OSError / RuntimeError: the wheel is there but FFmpeg's shared
        # libraries (or a torch it was built for) are not
        raise ImportError(
            'TorchCodecInit needs torchcodec with FFmpeg shared libraries: '
            'run `bash tools/install.sh --torchcodec` (or pip install the '
            'torchcodec release built for your torch and install FFmpeg '
            f'4-7 libraries), or use DecordInit / DecordDecode. Cause: {err}'
        ) from err
    return VideoDecoder


class TorchCodecReader:
    """A torchcodec ``VideoDecoder`` with the calls pipelines make on a
    decord ``VideoReader``.

    Args:
        source: a file path or the file's bytes.
        num_threads (int): FFmpeg decoding threads (decord's
            ``num_threads``; 1 per dataloader worker is the usual choice).
        seek_mode (str): ``'exact'`` scans the file once to index every
            frame (as decord does); ``'approximate'`` trusts the container
            header (faster to open, frame counts of broken headers may be
            off).
        device (str): ``'cpu'``, or ``'cuda'`` for NVDEC with a CUDA build
            of torchcodec (frames are then copied back to host memory).
    """

    def __init__(self, source, num_threads: int = 1,
                 seek_mode: str = 'exact', device: str = 'cpu') -> None:
        if seek_mode not in SEEK_MODES:
            raise ValueError(f'seek_mode must be one of {SEEK_MODES}, got '
                             f'{seek_mode!r}')
        video_decoder = _import_torchcodec()
        self.decoder = video_decoder(
            source, dimension_order='NHWC', num_ffmpeg_threads=num_threads,
            seek_mode=seek_mode, device=device)
        meta = self.decoder.metadata
        self._fps = float(meta.average_fps or 0.0)
        self._len = len(self.decoder)

    def __len__(self) -> int:
        return self._len

    def get_avg_fps(self) -> float:
        return self._fps

    def frames(self, indices: Sequence[int]) -> np.ndarray:
        """Frames at ``indices`` (any order, repeats allowed) as an
        ``(N, H, W, 3)`` uint8 array."""
        inds = [int(i) for i in np.asarray(indices).reshape(-1)]
        if any(i < 0 or i >= self._len for i in inds):
            raise IndexError(f'frame indices {inds} outside the video\'s '
                             f'{self._len} frames')
        return self.decoder.get_frames_at(inds).data.cpu().numpy()

    def get_batch(self, indices: Sequence[int]) -> '_Frames':
        """decord's ``get_batch``: call ``.asnumpy()`` on the result."""
        return _Frames(self.frames(indices))

    def get_key_indices(self) -> list:
        """Indices of the keyframes (what ``KeyframeSampleFrames`` reads);
        empty when this torchcodec cannot list them."""
        keys = getattr(self.decoder, '_get_key_frame_indices', None)
        return [] if keys is None else [int(k) for k in keys()]


class _Frames:
    """What decord's ``get_batch`` returns, as far as pipelines use it."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array

    def asnumpy(self) -> np.ndarray:
        return self.array


def decode_frames(reader, indices: Sequence[int]) -> np.ndarray:
    """``(N, H, W, 3)`` uint8 frames at ``indices`` from a decord
    ``VideoReader`` or a :class:`TorchCodecReader`."""
    if isinstance(reader, TorchCodecReader):
        return reader.frames(indices)
    return reader.get_batch(np.asarray(indices)).asnumpy()


@TRANSFORMS.register_module()
class TorchCodecInit(BaseTransform):
    """Open ``results['filename']`` (or ``results['video_bytes']``, held by
    a shard dataset) with torchcodec; the counterpart of ``DecordInit``.

    Added keys: ``video_reader`` (:class:`TorchCodecReader`),
    ``total_frames``, ``avg_fps``.

    Args:
        num_threads (int): FFmpeg decoding threads.
        seek_mode (str): ``'exact'`` or ``'approximate'``
            (:class:`TorchCodecReader`).
        device (str): ``'cpu'`` or ``'cuda'`` (NVDEC).
        backend_args (dict, optional): mmengine file backend arguments for
            files that are not on a local disk (read as bytes).
    """

    def __init__(self, num_threads: int = 1, seek_mode: str = 'exact',
                 device: str = 'cpu',
                 backend_args: Optional[dict] = None) -> None:
        if seek_mode not in SEEK_MODES:
            raise ValueError(f'TorchCodecInit: seek_mode must be one of '
                             f'{SEEK_MODES}, got {seek_mode!r}')
        self.num_threads = int(num_threads)
        self.seek_mode = seek_mode
        self.device = device
        self.backend_args = backend_args

    def _source(self, results: Dict):
        data = results.pop('video_bytes', None)
        if data is not None:
            return data
        filename = results['filename']
        if osp.splitext(filename)[0] == filename:
            filename += '.mp4'  # as DecordInit does
        if self.backend_args is None and osp.isfile(filename):
            return filename
        from mmengine.fileio import get
        return io.BytesIO(get(filename, backend_args=self.backend_args))

    def transform(self, results: Dict) -> Dict:
        reader = TorchCodecReader(self._source(results), self.num_threads,
                                  self.seek_mode, self.device)
        results['video_reader'] = reader
        results['total_frames'] = len(reader)
        results['avg_fps'] = reader.get_avg_fps()
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(num_threads={self.num_threads}, '
                f'seek_mode={self.seek_mode!r}, device={self.device!r})')


@TRANSFORMS.register_module()
class TorchCodecDecode(BaseTransform):
    """Decode ``results['frame_inds']``; the counterpart of
    ``DecordDecode`` (its ``'accurate'`` mode: exactly the frames asked
    for).

    Required keys: ``video_reader``, ``frame_inds``.
    Added keys: ``imgs`` (list of ``(H, W, 3)`` uint8 RGB arrays),
    ``original_shape``, ``img_shape``. ``video_reader`` is released.
    """

    def transform(self, results: Dict) -> Dict:
        reader = results['video_reader']
        if reader is None:
            raise KeyError('TorchCodecDecode needs results["video_reader"]: '
                           'put TorchCodecInit before it')
        inds = np.asarray(results['frame_inds'])
        if inds.ndim != 1:
            inds = inds.reshape(-1)
            results['frame_inds'] = inds
        frames = decode_frames(reader, inds)
        results['video_reader'] = None
        del reader
        results['imgs'] = list(frames)
        results['original_shape'] = results['img_shape'] = frames.shape[1:3]
        return results


#: the decord steps and their torchcodec counterparts
_SWAP = dict(DecordInit='TorchCodecInit', DecordInitBytes='TorchCodecInit',
             DecordDecode='TorchCodecDecode')


def with_torchcodec(pipeline: Sequence[dict], **init_kwargs) -> list:
    """A copy of a pipeline config with ``DecordInit`` /
    ``DecordInitBytes`` / ``DecordDecode`` replaced by their torchcodec
    counterparts (also inside ``MultiClipDecode``'s ``clip_pipeline``);
    ``init_kwargs`` go to :class:`TorchCodecInit` (``num_threads`` is kept).
    Raises ValueError for a decord step it cannot map (``DecordDecode`` in
    ``'efficient'`` mode returns keyframes, not the frames asked for)."""
    import copy
    out = []
    for step in pipeline:
        step = copy.deepcopy(step)
        name = step['type'].split('.')[-1]
        if name in _SWAP:
            mode = step.pop('mode', 'accurate')
            if mode != 'accurate':
                raise ValueError(f'with_torchcodec: {name} in {mode!r} '
                                 'mode has no torchcodec counterpart')
            keep = {k: v for k, v in step.items() if k == 'num_threads'}
            step = dict(type=_SWAP[name], **keep)
            if name != 'DecordDecode':
                step.update(init_kwargs)
        elif 'clip_pipeline' in step:
            step['clip_pipeline'] = with_torchcodec(step['clip_pipeline'])
        out.append(step)
    return out
