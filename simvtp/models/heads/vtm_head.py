"""Video-text matching (VTM) head."""
from typing import Dict, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from simvtp.registry import MODELS


@MODELS.register_module()
class VTMHead(BaseModule):
    """Binary matched / not-matched classifier on the fused [CLS] feature.

    Label 1 = matched pair, 0 = negative pair.

    Args:
        embed_dims (int): Defaults to 768.
        negative (str): negative sampling of :meth:`sample_negatives`,
            'random' or 'hard'. Defaults to 'random'.
        loss_weight (float): Defaults to 1.0.
        init_cfg (dict, optional): Defaults to None.
    """

    NEGATIVES = ('random', 'hard')

    def __init__(self,
                 embed_dims: int = 768,
                 negative: str = 'random',
                 loss_weight: float = 1.0,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if negative not in self.NEGATIVES:
            raise ValueError(f'negative must be one of {self.NEGATIVES}, '
                             f'got negative={negative!r}')
        self.embed_dims = embed_dims
        self.negative = negative
        self.loss_weight = loss_weight
        self.fc = nn.Linear(embed_dims, 2)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        """``(..., D)`` -> logits ``(..., 2)``."""
        return self.fc(feat)

    @torch.no_grad()
    def sample_negatives(self,
                         batch_size: int,
                         sim: Optional[torch.Tensor] = None,
                         generator: Optional[torch.Generator] = None,
                         groups: Optional[torch.Tensor] = None
                         ) -> torch.Tensor:
        """For each text ``i`` a video index ``j != i`` (of another video
        than ``i``'s when ``groups`` are given).

        Args:
            batch_size (int): ``B >= 2``.
            sim (Tensor, optional): ``(B, B)`` text-to-video similarity logits
                (rows = text, cols = video), required by 'hard'. It is used
                as given (``softmax(sim)``), so pass it already divided by the
                temperature. For video-to-text negatives pass ``sim.t()``.
            generator (torch.Generator, optional): on ``sim``'s device (CPU
                when ``sim`` is None).
            groups (Tensor, optional): ``(B,)`` ids of the video each pair
                was cut from (``MultiClipDecode``); ``j`` is then drawn only
                among pairs of other videos (same distributions over them).

        Returns:
            LongTensor ``(B,)``. 'random': uniform over ``j != i``; 'hard':
            ``j`` drawn with probability ``softmax(sim[i])`` with the diagonal
            excluded (ALBEF-style hard negatives).
        """
        if batch_size < 2:
            raise ValueError('VTM negative sampling needs a batch of at least '
                             f'2 pairs, got batch_size={batch_size}')
        if groups is not None:
            return self._sample_other_videos(batch_size, sim, generator,
                                             groups)
        if self.negative == 'random':
            device = sim.device if sim is not None else torch.device('cpu')
            offsets = torch.randint(1, batch_size, (batch_size, ),
                                    generator=generator, device=device)
            return (torch.arange(batch_size, device=device) + offsets) \
                % batch_size
        weights = self.negative_weights(sim, batch_size)
        return torch.multinomial(weights, 1, generator=generator).squeeze(1)

    def _sample_other_videos(self, batch_size, sim, generator, groups
                             ) -> torch.Tensor:
        """:meth:`sample_negatives` among the pairs of other videos."""
        device = sim.device if sim is not None else torch.device('cpu')
        groups = groups.to(device).reshape(-1)
        if groups.shape[0] != batch_size:
            raise ValueError(f'groups {tuple(groups.shape)} must be '
                             f'({batch_size},), one id per pair')
        same = groups[:, None] == groups[None, :]
        lonely = same.all(dim=1)
        if bool(lonely.any()):
            raise ValueError(
                'VTM negative sampling: every pair of the batch comes from '
                f'the same video as pair {int(lonely.nonzero()[0])} '
                f'(video ids {groups.tolist()}): a batch of clips cut from '
                'one video has no negative; use more videos per batch')
        if self.negative == 'random':
            weights = (~same).float()
        else:
            logits = self.negative_weights(sim, batch_size).log()
            weights = logits.masked_fill(same, float('-inf')).softmax(dim=1)
        return torch.multinomial(weights, 1, generator=generator).squeeze(1)

    @staticmethod
    def negative_weights(sim: Optional[torch.Tensor],
                         batch_size: int) -> torch.Tensor:
        """Hard-negative probabilities ``softmax(sim[i])`` over ``j != i``,
        ``(B, B)`` float32 (rows sum to 1, zero diagonal)."""
        if sim is None:
            raise ValueError("negative='hard' needs the (B, B) similarity")
        if sim.shape != (batch_size, batch_size):
            raise ValueError(f'sim must be ({batch_size}, {batch_size}), got '
                             f'{tuple(sim.shape)}')
        logits = torch.nan_to_num(sim.detach().float())
        eye = torch.eye(batch_size, dtype=torch.bool, device=sim.device)
        return logits.masked_fill(eye, float('-inf')).softmax(dim=1)

    def loss_without_negatives(self, pos_feat: torch.Tensor
                               ) -> Dict[str, torch.Tensor]:
        """A zero ``loss_vtm`` for a batch of one pair (no other clip to
        pair its text with), attached to the graph through the head and
        ``pos_feat`` so every parameter still takes part in backward (DDP
        expects that on every rank).

        Args:
            pos_feat: ``(B, D)`` fused features of the matched pairs.
        """
        return dict(loss_vtm=self(pos_feat).sum() * 0.0)

    def loss(self, pos_feat: torch.Tensor,
             neg_feat: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Cross entropy of matched (label 1) and negative (label 0) pairs.

        Args:
            pos_feat: ``(B, D)`` fused features of matched pairs.
            neg_feat: ``(B_neg, D)`` fused features of negative pairs.

        Returns:
            ``dict(loss_vtm=..., vtm_acc=...)`` (accuracy detached).
        """
        feat = torch.cat([pos_feat, neg_feat], dim=0)
        logits = self(feat).float()
        labels = torch.cat([
            torch.ones(pos_feat.shape[0], dtype=torch.long),
            torch.zeros(neg_feat.shape[0], dtype=torch.long)
        ]).to(logits.device)
        loss = F.cross_entropy(logits, labels)
        acc = (logits.argmax(dim=1) == labels).float().mean().detach()
        return dict(loss_vtm=loss * self.loss_weight, vtm_acc=acc)
