"""What the video-QA models share: the encoder, pooling and mode dispatch."""
from typing import List, Optional

import torch
from mmengine.model import BaseModel

from ...registry import MODELS
from .joint import POOLINGS


class BaseVideoQA(BaseModel):
    """A unified encoder and ``forward`` dispatching on ``mode``:
    ``'loss'`` -> :meth:`loss`, ``'predict'`` -> :meth:`predict`,
    ``'tensor'`` -> :meth:`scores` (the model's raw output).

    Args:
        backbone: the unified encoder (``UnifiedViT``) config.
        pooling: ``'mean'`` (pre-training's, padding excluded),
            ``'mean_with_padding'``, ``'text'`` or ``'video_text'``
            (:func:`~.joint.joint_features`).
        data_preprocessor: defaults to ``VideoTextDataPreprocessor``.
    """

    def __init__(self, backbone: dict, pooling: str = 'mean',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if pooling not in POOLINGS:
            raise ValueError(f'pooling must be one of {POOLINGS}, got '
                             f'{pooling!r}')
        super().__init__(data_preprocessor=data_preprocessor or dict(
            type='VideoTextDataPreprocessor'), init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.pooling = pooling

    @staticmethod
    def gt_labels(data_samples: List, device) -> torch.Tensor:
        """``(B,)`` long labels of the samples' ``gt_label``."""
        return torch.cat([s.gt_label.reshape(1) for s in data_samples]
                         ).long().to(device)

    def forward(self, inputs: dict, data_samples: Optional[List] = None,
                mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.scores(inputs)
        raise RuntimeError(f'Invalid mode "{mode}". Only supports loss, '
                           'predict and tensor mode')
