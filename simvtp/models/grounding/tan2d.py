"""2D-TAN (Zhang et al., AAAI 2020) over pre-extracted clip features.

Per query (``B`` queries, features ``(B, N_in, D)``, ``N`` map clips)::

    features -> frame_pool (1x1 conv + ReLU, average to N)  (B, H, N)
             -> proposal map (sparse 2D map of segments)     (B, H, N, N)
    query    -> query_encoder                                 (B, Dt)
    fusion (Hadamard product, L2-normalised)                  (B, H, N, N)
    -> map_conv (masked convs) -> 1x1 score head              (B, N, N)

Training: scaled-IoU BCE against each proposal's IoU with the ground truth.
Test: proposals sorted by score, greedy NMS, the top ``max_proposals``
segments in seconds.
"""
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn
from mmengine.model import BaseModel

from ...registry import MODELS
from .temporal import iou_map, nms_1d, proposal_times

__all__ = ['TAN2D']


@MODELS.register_module()
class TAN2D(BaseModel):
    """2D temporal adjacent network for moment localisation.

    Args:
        frame_pool: ``FrameAvgPool`` config.
        proposal: ``SparsePropMap`` config (``hidden_dims`` defaults to the
            frame pool's).
        query_encoder: ``SimVTPTextQueryEncoder`` or ``LSTMQueryEncoder``
            config.
        fusion: ``HadamardFusion`` config (``text_dims`` and
            ``hidden_dims`` default to the neighbours').
        map_conv: ``MapConv`` config (``in_channels`` defaults to the
            fusion's width).
        loss: ``ScaledIoULoss`` config (per-dataset IoU bounds).
        nms_thresh: NMS IoU threshold at test (2D-TAN: 0.5).
        max_proposals: segments kept per query at test (the largest R@n).
        data_preprocessor: defaults to ``GroundingDataPreprocessor``.
    """

    def __init__(self,
                 frame_pool: dict,
                 proposal: dict,
                 query_encoder: dict,
                 fusion: dict,
                 map_conv: dict,
                 loss: dict = dict(type='ScaledIoULoss'),
                 nms_thresh: float = 0.5,
                 max_proposals: int = 5,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='GroundingDataPreprocessor')
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.frame_pool = MODELS.build(frame_pool)
        hidden = self.frame_pool.hidden_dims
        self.proposal = MODELS.build(dict(dict(hidden_dims=hidden),
                                          **proposal))
        self.query_encoder = MODELS.build(query_encoder)
        self.fusion = MODELS.build(dict(
            dict(text_dims=self.query_encoder.out_dims, hidden_dims=hidden),
            **fusion))
        self.map_conv = MODELS.build(dict(
            dict(in_channels=self.fusion.hidden_dims), **map_conv))
        self.score = nn.Conv2d(self.map_conv.out_channels, 1, 1)
        self.loss_module = MODELS.build(loss)
        if not 0 <= nms_thresh <= 1 or max_proposals < 1:
            raise ValueError('need 0 <= nms_thresh <= 1 and max_proposals '
                             '>= 1')
        self.nms_thresh = float(nms_thresh)
        self.max_proposals = int(max_proposals)

    def score_map(self, inputs: Dict[str, torch.Tensor]):
        """``((B, N, N) logits, (N, N) bool proposal mask)``; logits are 0
        outside the mask."""
        clips = self.frame_pool(inputs['features'])
        proposals, mask = self.proposal(clips)
        query = self.query_encoder(inputs['input_ids'],
                                   inputs['attention_mask'])
        fused = self.fusion(query, proposals, mask)
        fused = self.map_conv(fused, mask)
        logits = self.score(fused)[:, 0] * mask.to(fused.dtype)
        return logits, mask

    def forward(self, inputs: Dict[str, torch.Tensor],
                data_samples: Optional[List] = None,
                mode: str = 'tensor'):
        logits, mask = self.score_map(inputs)
        if mode == 'tensor':
            return logits
        if mode == 'loss':
            return dict(loss=self.loss_module(
                logits, self._iou_targets(data_samples, logits), mask))
        if mode == 'predict':
            return self.predict(logits, mask, data_samples)
        raise ValueError(f'unknown mode {mode!r}')

    def _iou_targets(self, data_samples, logits: torch.Tensor
                     ) -> torch.Tensor:
        gt = torch.tensor([list(s.gt_times) for s in data_samples],
                          dtype=torch.float32, device=logits.device)
        duration = torch.tensor([float(s.duration) for s in data_samples],
                                dtype=torch.float32, device=logits.device)
        return iou_map(gt, duration, logits.shape[-1])

    @torch.no_grad()
    def predict(self, logits: torch.Tensor, mask: torch.Tensor,
                data_samples: Sequence) -> Sequence:
        """Set ``pred_segments`` ``(K, 2)`` seconds (best first, after NMS)
        and ``pred_scores`` ``(K,)`` on every data sample."""
        num = logits.shape[-1]
        cells = mask.nonzero().cpu().numpy()  # (P, 2) valid (i, j)
        scores = torch.sigmoid(logits[:, mask]).float().cpu().numpy()
        unit = proposal_times(num, 1.0).numpy()[cells[:, 0], cells[:, 1]]
        for sample, row in zip(data_samples, scores):
            order = np.argsort(-row, kind='stable')
            segments = unit[order] * float(sample.duration)
            keep = nms_1d(segments, self.nms_thresh, self.max_proposals)
            sample.pred_segments = torch.from_numpy(segments[keep]).float()
            sample.pred_scores = torch.from_numpy(row[order][keep]).float()
        return data_samples
