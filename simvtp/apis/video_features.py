"""Per-clip video features from the video side of a simvtp encoder.

A video is cut into dense clips (``clip_len`` frames ``frame_interval``
apart, one clip per ``stride`` frames); each clip goes through
``UnifiedViT.embed_video`` and ``UnifiedViT.encode(video_tokens, None,
None)`` (the video-only pass of pre-training's VTC), and its output tokens
are mean-pooled into one ``D``-vector. The result is ``(num_clips, D)`` per
video, the input of temporal grounding models such as 2D-TAN.

Clip ``k`` is centred on the cell ``[k * stride, (k + 1) * stride)`` of
the video, so feature ``k`` describes what happens in that cell: this is
what grounding models assume when they spread the features uniformly over
the video's duration. With the default non-overlapping clips (``stride`` =
``clip_len * frame_interval``) clip ``k`` starts at frame ``k * stride``.
Frame indices outside the video are clamped to its first/last frame, so the
clips cover the whole video (``ceil(num_frames / stride)`` of them).
"""
import math
from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ..registry import TRANSFORMS

__all__ = ['dense_clip_indices', 'video_encoder_of', 'encode_video_clips',
           'VideoFeatureExtractor', 'extract_video_features',
           'VideoReadError']

# ImageNet statistics in 0-255 units (the data preprocessor's default)
DEFAULT_MEAN = (123.675, 116.28, 103.53)
DEFAULT_STD = (58.395, 57.12, 57.375)


class VideoReadError(RuntimeError):
    """A video cannot be read (missing, empty, undecodable)."""


def dense_clip_indices(num_frames: int, clip_len: int = 16,
                       frame_interval: int = 4,
                       stride: Optional[int] = None) -> np.ndarray:
    """Frame indices of the dense clips of a video.

    Args:
        num_frames: frames in the video (> 0).
        clip_len: frames per clip ``T``.
        frame_interval: distance between sampled frames.
        stride: frames between the starts of consecutive clips; None means
            non-overlapping clips (``clip_len * frame_interval``). Smaller
            values overlap, larger ones leave gaps.

    Returns:
        ``(num_clips, clip_len)`` int64, ``num_clips = ceil(num_frames /
        stride)``; clip ``k`` spans ``clip_len * frame_interval`` frames
        centred on ``[k * stride, (k + 1) * stride)``, indices clamped to
        ``[0, num_frames - 1]``.
    """
    if num_frames <= 0:
        raise ValueError(f'the video has no frames (num_frames={num_frames})')
    if clip_len < 1 or frame_interval < 1:
        raise ValueError(f'clip_len ({clip_len}) and frame_interval '
                         f'({frame_interval}) must be >= 1')
    span = clip_len * frame_interval
    stride = span if stride is None else int(stride)
    if stride < 1:
        raise ValueError(f'stride must be >= 1, got {stride}')
    num_clips = math.ceil(num_frames / stride)
    # centre the span on each stride cell (floor keeps it integral)
    starts = np.arange(num_clips) * stride + (stride - span) // 2
    idx = starts[:, None] + np.arange(clip_len)[None] * frame_interval
    return np.clip(idx, 0, num_frames - 1).astype(np.int64)


def video_encoder_of(model: torch.nn.Module) -> torch.nn.Module:
    """The :class:`~simvtp.models.backbones.UnifiedViT` of ``model``.

    ``model`` may be the encoder itself or any model holding it as
    ``backbone`` (``SimVTP``) or ``video_encoder``.
    """
    from ..models.backbones import UnifiedViT
    if isinstance(model, UnifiedViT):
        return model
    for name in ('backbone', 'video_encoder', 'encoder'):
        part = getattr(model, name, None)
        if isinstance(part, UnifiedViT):
            return part
    raise TypeError(f'{type(model).__name__} holds no UnifiedViT (looked at '
                    'the model itself and its backbone / video_encoder / '
                    'encoder attributes)')


@torch.no_grad()
def encode_video_clips(encoder: torch.nn.Module,
                       clips: torch.Tensor) -> torch.Tensor:
    """Mean-pooled video-only encoding of normalised clips.

    Args:
        encoder: a ``UnifiedViT``.
        clips: ``(B, C, T, H, W)`` float, already normalised.

    Returns:
        ``(B, D)``: ``encode(embed_video(clips), None, None)`` averaged over
        its ``T' * H' * W'`` tokens.
    """
    from ..models.utils import pool_video
    return pool_video(encoder, clips)


def _default_transforms(encoder) -> List[dict]:
    height, width = encoder.img_size
    return [dict(type='Resize', scale=(-1, min(height, width))),
            dict(type='CenterCrop', crop_size=(width, height)),
            dict(type='FormatShape', input_format='NCTHW')]


class VideoFeatureExtractor:
    """Turn a video file into ``(num_clips, D)`` features.

    Args:
        model: a simvtp model holding a ``UnifiedViT`` (see
            :func:`video_encoder_of`), e.g. from :func:`simvtp.apis.
            init_model`; its data preprocessor's ``normalize`` is used when
            it has one, ImageNet statistics otherwise.
        clip_len, frame_interval, stride: see :func:`dense_clip_indices`.
            ``clip_len`` must be a multiple of the encoder's tubelet size.
        batch_size: clips encoded together.
        transforms: mmaction frame transforms (configs) applied to each
            batch of decoded frames, ending with ``FormatShape('NCTHW')``;
            default: short side to the encoder's ``img_size``, centre crop.
        device: where clips are encoded (default: the model's device).
        num_threads: decord decoding threads (0 = decord's default).
    """

    def __init__(self,
                 model: torch.nn.Module,
                 clip_len: int = 16,
                 frame_interval: int = 4,
                 stride: Optional[int] = None,
                 batch_size: int = 8,
                 transforms: Optional[Sequence[Union[dict, Callable]]] = None,
                 device: Optional[Union[str, torch.device]] = None,
                 num_threads: int = 1) -> None:
        self.encoder = video_encoder_of(model)
        # a model that pools its video-only pass with a module (SimVTP's or
        # the retriever's ``video_pool``) gives that pooled feature per clip
        self.video_pool = getattr(model, 'video_pool', None)
        tubelet = self.encoder.tubelet_size
        if clip_len % tubelet:
            raise ValueError(f'clip_len={clip_len} is not a multiple of the '
                             f'encoder\'s tubelet size {tubelet}')
        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        self.clip_len = int(clip_len)
        self.frame_interval = int(frame_interval)
        self.stride = None if stride is None else int(stride)
        dense_clip_indices(1, self.clip_len, self.frame_interval, self.stride)
        self.batch_size = int(batch_size)
        self.num_threads = int(num_threads)
        preprocessor = getattr(model, 'data_preprocessor', None)
        if preprocessor is not None and hasattr(preprocessor, 'normalize'):
            self._normalize = preprocessor.normalize
        else:
            mean = torch.tensor(DEFAULT_MEAN).view(-1, 1, 1, 1)
            std = torch.tensor(DEFAULT_STD).view(-1, 1, 1, 1)
            self._normalize = lambda v: (v.float() - mean.to(v.device)) / \
                std.to(v.device)
        cfgs = _default_transforms(self.encoder) if transforms is None \
            else list(transforms)
        self.transforms = [TRANSFORMS.build(t) if isinstance(t, dict) else t
                           for t in cfgs]
        self.device = torch.device(device) if device is not None else next(
            self.encoder.parameters()).device

    @property
    def feature_dim(self) -> int:
        if self.video_pool is not None:
            return self.video_pool.out_dims
        return self.encoder.embed_dims

    def encode(self, clips: torch.Tensor) -> torch.Tensor:
        """``(B, C, T, H, W)`` normalised clips -> ``(B, feature_dim)``."""
        from ..models.utils import pool_video
        with torch.no_grad():
            return pool_video(self.encoder, clips, self.video_pool)

    def params(self) -> dict:
        """The sampling parameters (stored beside extracted features)."""
        span = self.clip_len * self.frame_interval
        return dict(clip_len=self.clip_len,
                    frame_interval=self.frame_interval,
                    stride=span if self.stride is None else self.stride,
                    feature_dim=self.feature_dim)

    def open(self, path: str) -> Tuple[object, int, float]:
        """``(reader, num_frames, fps)``; :class:`VideoReadError` if broken."""
        import os.path as osp

        import decord
        if not osp.isfile(path):
            raise VideoReadError(f'{path}: no such file')
        if osp.getsize(path) == 0:
            raise VideoReadError(f'{path}: the file is empty (0 bytes)')
        try:
            reader = decord.VideoReader(path, num_threads=self.num_threads)
        except Exception as exc:  # decord raises its own DECORDError
            raise VideoReadError(f'{path}: cannot open the video '
                                 f'({type(exc).__name__}: '
                                 f'{str(exc).splitlines()[0][:200]})') \
                from None
        num_frames = len(reader)
        if num_frames <= 0:
            raise VideoReadError(f'{path}: the video has no frames')
        return reader, num_frames, float(reader.get_avg_fps())

    def _frames(self, reader, path: str, indices: np.ndarray) -> np.ndarray:
        unique, inverse = np.unique(indices, return_inverse=True)
        try:
            frames = reader.get_batch(unique.tolist()).asnumpy()
        except Exception as exc:
            raise VideoReadError(
                f'{path}: cannot decode frames {int(unique[0])}-'
                f'{int(unique[-1])} ({type(exc).__name__}: '
                f'{str(exc).splitlines()[0][:200]})') from None
        return frames[inverse.reshape(-1)]

    def _clips(self, frames: np.ndarray, num_clips: int) -> torch.Tensor:
        """Decoded ``(num_clips * T, H, W, 3)`` -> normalised clips."""
        results = dict(imgs=list(frames), num_clips=num_clips,
                       clip_len=self.clip_len, modality='RGB',
                       img_shape=frames.shape[1:3],
                       original_shape=frames.shape[1:3])
        for transform in self.transforms:
            results = transform(results)
        clips = torch.from_numpy(np.ascontiguousarray(results['imgs']))
        if clips.dim() != 5 or clips.shape[0] != num_clips:
            raise ValueError(f'the transforms must end with FormatShape('
                             f"'NCTHW'), got {tuple(clips.shape)}")
        return self._normalize(clips.to(self.device))

    def __call__(self, path: str) -> np.ndarray:
        """``(num_clips, D)`` float32 features of the video at ``path``."""
        return self.extract(path)[0]

    def extract(self, path: str) -> Tuple[np.ndarray, dict]:
        """Features plus ``dict(num_frames, fps)`` of the video."""
        reader, num_frames, fps = self.open(path)
        indices = dense_clip_indices(num_frames, self.clip_len,
                                     self.frame_interval, self.stride)
        was_training = self.encoder.training
        self.encoder.eval()
        if self.video_pool is not None:
            self.video_pool.eval()
        out = []
        try:
            for start in range(0, len(indices), self.batch_size):
                batch = indices[start:start + self.batch_size]
                frames = self._frames(reader, path, batch.reshape(-1))
                clips = self._clips(frames, len(batch))
                out.append(self.encode(clips).float().cpu().numpy())
        finally:
            self.encoder.train(was_training)
        features = np.concatenate(out).astype(np.float32)
        if not np.isfinite(features).all():
            raise ValueError(f'{path}: non-finite features (check the '
                             'checkpoint)')
        return features, dict(num_frames=num_frames, fps=fps)


def extract_video_features(model: torch.nn.Module, path: str,
                           **kwargs) -> np.ndarray:
    """``(num_clips, D)`` features of one video; see
    :class:`VideoFeatureExtractor` for the keyword arguments."""
    return VideoFeatureExtractor(model, **kwargs)(path)
