"""L2-normalised video and caption features from any simvtp model.

A model qualifies when it has a data preprocessor (stacking + normalising
packed inputs, e.g. ``VideoTextDataPreprocessor``) and an
``extract_features(inputs) -> dict`` that returns ``video_feature`` (B, D)
for ``inputs['video']`` (B, C, T, H, W) and ``text_feature`` (N, D) for
``inputs['input_ids']`` / ``attention_mask`` (N, L): ``SimVTP``
(pre-training) and the retrieval model ``VideoTextRetriever`` both do.
Items with ``V`` views are encoded as ``V`` clips and reduced by the
model's ``view_reduce`` (``'mean'`` of the features, or ``'unit_mean'``:
mean of the L2-normalised features; ``'mean'`` when the model has none),
then L2-normalised.
"""
import hashlib
import json
from dataclasses import dataclass, field
from typing import Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F

from .inference_pipeline import InferencePipeline, VideoInput, \
    eval_pipeline_of
from .video_features import VideoReadError

__all__ = ['VideoTextEncoder', 'EncodedVideos', 'encode_videos',
           'encode_texts', 'similarity', 'model_fingerprint']


@dataclass
class EncodedVideos:
    """Result of encoding a list of videos with broken ones skipped.

    Attributes:
        features: ``(M, D)`` float32, L2-normalised, one row per readable
            video, in input order.
        kept: for each row, its position in the input list.
        failed: ``(position, name, reason)`` of each video that could not
            be read or encoded.
    """
    features: torch.Tensor
    kept: List[int] = field(default_factory=list)
    failed: List[Tuple[int, str, str]] = field(default_factory=list)


def _describe(item: VideoInput) -> str:
    if isinstance(item, str):
        return item
    return f'<{type(item).__name__} {tuple(item.shape)}>'


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f'{type(exc).__name__}: {text[0][:300] if text else ""}'.rstrip()


def model_fingerprint(model: torch.nn.Module,
                      extra: Optional[dict] = None) -> str:
    """A hex digest of the model's weights (and ``extra``, e.g. the
    pipeline): two models give the same features iff (normally) they give
    the same fingerprint. Names, shapes, dtypes and bytes of every
    parameter and buffer of the state dict are hashed in key order."""
    digest = hashlib.blake2b(digest_size=16)
    for name, value in sorted(model.state_dict().items()):
        if not isinstance(value, torch.Tensor):
            continue
        value = value.detach().cpu().contiguous()
        digest.update(f'{name}|{tuple(value.shape)}|{value.dtype}|'.encode())
        digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes()
                      if value.numel() else b'')
    if extra is not None:
        digest.update(json.dumps(extra, sort_keys=True,
                                 default=str).encode())
    return digest.hexdigest()


class VideoTextEncoder:
    """Encode videos and captions with a model and its config's pipeline.

    Args:
        model: a model built by :func:`simvtp.apis.init_model` (it carries
            its config as ``model.cfg``), see the module docstring.
        pipeline: the evaluation pipeline; default: the config's
            (:func:`~simvtp.apis.inference_pipeline.eval_pipeline_of`).
        num_clips: temporal views per video (overrides the sampling step's
            ``num_clips``); None keeps the config's.
        batch_size: videos per forward pass; captions go
            ``4 * batch_size`` at a time.
        progress: show a progress bar for lists longer than one batch.
    """

    def __init__(self, model: torch.nn.Module,
                 pipeline: Optional[Sequence[dict]] = None,
                 num_clips: Optional[int] = None,
                 batch_size: int = 8,
                 progress: bool = True) -> None:
        if not hasattr(model, 'extract_features'):
            raise TypeError(f'{type(model).__name__} has no extract_features'
                            '(inputs) method; use a SimVTP or '
                            'VideoTextRetriever model')
        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        if pipeline is None:
            cfg = getattr(model, 'cfg', None)
            if cfg is None:
                raise ValueError('the model carries no config (model.cfg); '
                                 'build it with simvtp.apis.init_model or '
                                 'pass pipeline=')
            pipeline = eval_pipeline_of(cfg)
        self.model = model
        self.pipeline = InferencePipeline(pipeline, num_clips=num_clips)
        self.batch_size = int(batch_size)
        self.progress = progress
        self._fingerprint = None

    @property
    def fingerprint(self) -> str:
        """:func:`model_fingerprint` of the model and the pipeline."""
        if self._fingerprint is None:
            self._fingerprint = model_fingerprint(
                self.model, dict(pipeline=self.pipeline.config,
                                 num_clips=self.pipeline.num_clips,
                                 model=type(self.model).__name__))
        return self._fingerprint

    def _bar(self, total: int, desc: str):
        from tqdm import tqdm
        return tqdm(total=total, desc=desc, unit='item', dynamic_ncols=True,
                    disable=not self.progress or total <= self.batch_size)

    # ------------------------------------------------------------- videos
    @torch.no_grad()
    def encode_clips(self, clips: Sequence[torch.Tensor]) -> torch.Tensor:
        """Packed videos -> ``(B, D)`` L2-normalised features.

        Args:
            clips: ``B`` tensors ``(V, C, T, H, W)`` in 0-255 (the same
                ``V`` for all), from :meth:`InferencePipeline.video`.
        """
        views = {c.shape[0] for c in clips}
        if len(views) != 1:
            raise ValueError(f'videos of one batch have different numbers '
                             f'of views {sorted(views)}')
        data = self.model.data_preprocessor(
            dict(inputs=[dict(video=c) for c in clips]), False)
        video = data['inputs']['video']  # (B, V, C, T, H, W), normalised
        batch, v = video.shape[:2]
        feats = self.model.extract_features(
            dict(video=video.flatten(0, 1)))['video_feature'].float()
        feats = feats.view(batch, v, -1)
        if getattr(self.model, 'view_reduce', 'mean') == 'unit_mean':
            feats = F.normalize(feats, dim=-1)
        return F.normalize(feats.mean(dim=1), dim=-1)

    def iter_videos(self, videos: Iterable[VideoInput],
                    skip_broken: bool = True
                    ) -> Iterable[Tuple[List[int], torch.Tensor,
                                        List[Tuple[int, str, str]]]]:
        """Yield ``(positions, features (b, D), failures)`` batch by batch
        (for callers that write as they go, e.g. an index being built).

        A video that cannot be read (missing, empty, undecodable) is a
        failure ``(position, name, reason)``; with ``skip_broken=False`` it
        raises a :class:`~simvtp.apis.VideoReadError` naming the video.
        """
        pending, positions, failures = [], [], []
        for pos, item in enumerate(videos):
            try:
                pending.append(self.pipeline.video(item))
                positions.append(pos)
            except Exception as exc:  # decord raises its own error types
                if isinstance(exc, TypeError):  # not a video at all
                    raise
                if not skip_broken:
                    raise VideoReadError(
                        f'{_describe(item)}: {_reason(exc)}') from exc
                failures.append((pos, _describe(item), _reason(exc)))
            if len(pending) == self.batch_size:
                yield positions, self._encode_batch(pending), failures
                pending, positions, failures = [], [], []
        if pending or failures:
            yield positions, self._encode_batch(pending), failures

    def _encode_batch(self, clips: List[torch.Tensor]) -> torch.Tensor:
        if not clips:
            return torch.zeros(0, 0)
        # a batch mixing view counts (odd pipelines) is encoded per group
        if len({c.shape[0] for c in clips}) == 1:
            return self.encode_clips(clips).cpu()
        return torch.cat([self.encode_clips([c]).cpu() for c in clips])

    def encode_videos(self, videos: Sequence[VideoInput],
                      skip_broken: bool = False
                      ) -> Union[torch.Tensor, EncodedVideos]:
        """``(N, D)`` L2-normalised features of ``videos`` (float32, CPU).

        With ``skip_broken=True`` returns an :class:`EncodedVideos` (rows
        of the readable videos + the failures) instead of raising on the
        first unreadable one.
        """
        videos = list(videos)
        feats, kept, failed = [], [], []
        with self._bar(len(videos), 'videos') as bar:
            for pos, f, bad in self.iter_videos(videos, skip_broken):
                if len(pos):
                    feats.append(f)
                kept += pos
                failed += bad
                for _, name, reason in bad:
                    bar.write(f'[encode_videos] skipped {name}: {reason}')
                bar.update(len(pos) + len(bad))
        dims = feats[0].shape[1] if feats else 0
        out = torch.cat(feats) if feats else torch.zeros(0, dims)
        if skip_broken:
            return EncodedVideos(out, kept, failed)
        return out

    # ----------------------------------------------------------- captions
    @torch.no_grad()
    def encode_texts(self, captions: Union[str, Sequence[str]]
                     ) -> torch.Tensor:
        """``(N, D)`` L2-normalised caption features (float32, CPU); a
        single string gives ``(1, D)``."""
        if isinstance(captions, str):
            captions = [captions]
        captions = list(captions)
        chunk = 4 * self.batch_size
        out = []
        with self._bar(len(captions), 'captions') as bar:
            for start in range(0, len(captions), chunk):
                rows = []
                for caption in captions[start:start + chunk]:
                    ids, mask = self.pipeline.text(caption)
                    rows.append(dict(input_ids=ids, attention_mask=mask))
                data = self.model.data_preprocessor(dict(inputs=rows), False)
                inputs = {k: data['inputs'][k] for k in
                          ('input_ids', 'attention_mask', 'text_padded')}
                feats = self.model.extract_features(inputs)['text_feature']
                out.append(F.normalize(feats.float(), dim=-1).cpu())
                bar.update(len(rows))
        if not out:
            raise ValueError('no captions given')
        return torch.cat(out)


def _encoder(model, **kwargs) -> VideoTextEncoder:
    return model if isinstance(model, VideoTextEncoder) else \
        VideoTextEncoder(model, **kwargs)


def encode_videos(model: torch.nn.Module,
                  videos: Sequence[VideoInput],
                  batch_size: int = 8,
                  num_clips: Optional[int] = None,
                  skip_broken: bool = False,
                  progress: bool = True
                  ) -> Union[torch.Tensor, EncodedVideos]:
    """Embed videos: paths, decoded ``(T, H, W, 3)`` frames or packed
    ``(C, T, H, W)`` / ``(V, C, T, H, W)`` tensors.

    Paths and frames go through the config's test pipeline; ``num_clips``
    asks for that many temporal views (features averaged). Returns ``(N,
    D)`` L2-normalised float32 features on the CPU, or, with
    ``skip_broken=True``, an :class:`EncodedVideos`.
    """
    enc = _encoder(model, batch_size=batch_size, num_clips=num_clips,
                   progress=progress)
    return enc.encode_videos(videos, skip_broken=skip_broken)


def encode_texts(model: torch.nn.Module, captions: Union[str, Sequence[str]],
                 batch_size: int = 32, progress: bool = True
                 ) -> torch.Tensor:
    """Embed captions with the config's tokenizer: ``(N, D)`` L2-normalised
    float32 on the CPU."""
    enc = _encoder(model, batch_size=max(1, batch_size // 4),
                   progress=progress)
    return enc.encode_texts(captions)


def similarity(a: Union[torch.Tensor, np.ndarray],
               b: Union[torch.Tensor, np.ndarray]) -> torch.Tensor:
    """Cosine similarity ``(N, M)`` of features ``a`` (N, D) and ``b`` (M,
    D) (1-D inputs count as one row); rows are L2-normalised first."""
    a, b = torch.as_tensor(a).float(), torch.as_tensor(b).float()
    a = a[None] if a.dim() == 1 else a
    b = b[None] if b.dim() == 1 else b
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f'features must be (N, D) and (M, D) with the same '
                         f'D, got {tuple(a.shape)} and {tuple(b.shape)}')
    return F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T
