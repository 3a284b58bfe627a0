"""One feature per video, in the clip-feature file format.

:class:`PooledVideoExtractor` gives :func:`~simvtp.apis.feature_file.
extract_to_hdf5` (resumable, one share per rank, merged by rank 0, broken
videos listed) the video's retrieval feature: the config's test pipeline
and the model's ``extract_features``, as :class:`~simvtp.apis.encode.
VideoTextEncoder` computes it for search, stored as a ``(1, D)``
L2-normalised row (or ``(V, D)``, one per view, with ``keep_views``). The
file records ``stride = 0`` (one feature for the whole video), so resuming
into a per-clip file is refused.
"""
from typing import Tuple

import numpy as np
import torch.nn.functional as F

from .encode import VideoTextEncoder

__all__ = ['PooledVideoExtractor']


class PooledVideoExtractor:
    """``extract(path) -> (features, info)`` with ``features`` ``(1, D)``.

    Args:
        encoder: the encoder (model + pipeline + views) to use.
        keep_views: store every view's normalised feature ``(V, D)``
            instead of the reduced one.
    """

    def __init__(self, encoder: VideoTextEncoder,
                 keep_views: bool = False) -> None:
        self.encoder = encoder
        self.keep_views = keep_views
        self._dims = None

    def params(self) -> dict:
        """Sampling parameters stored beside the features."""
        sampler = next((s for s in self.encoder.pipeline.config['video']
                        if 'clip_len' in s), {})
        if self._dims is None:
            self._dims = self._feature_dim()
        return dict(clip_len=int(sampler.get('clip_len', 0)),
                    frame_interval=int(sampler.get('frame_interval', 1)),
                    stride=0, feature_dim=self._dims)

    def _feature_dim(self) -> int:
        backbone = getattr(self.encoder.model, 'backbone', None)
        dims = getattr(backbone, 'embed_dims', None)
        if dims is None:  # e.g. untied towers: ask the model
            dims = self.encoder.encode_texts(['a']).shape[1]
        return int(dims)

    def extract(self, path: str) -> Tuple[np.ndarray, dict]:
        """``(1, D)`` (or ``(V, D)``) float32 features and
        ``dict(num_views=V)``; raises if the video cannot be read."""
        clip = self.encoder.pipeline.video(path)
        if self.keep_views:
            views = [clip[i:i + 1] for i in range(clip.shape[0])]
            feats = self.encoder.encode_clips(views)
        else:
            feats = self.encoder.encode_clips([clip])
        feats = F.normalize(feats.float(), dim=-1).cpu().numpy()
        if not np.isfinite(feats).all():
            raise ValueError(f'{path}: non-finite features (check the '
                             'checkpoint)')
        return feats.astype(np.float32), dict(num_views=int(clip.shape[0]))
