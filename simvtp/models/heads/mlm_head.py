"""Masked language modelling loss."""
from typing import Dict

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule

from simvtp.registry import MODELS

IGNORE_INDEX = -100


@MODELS.register_module()
class MLMHead(BaseModule):
    """Cross entropy over the selected (masked) text positions.

    The vocabulary projection lives in the text decoder; this head only turns
    its logits into ``dict(loss_text=...)``.

    Args:
        loss_weight (float): Defaults to 1.0.
        init_cfg (dict, optional): Defaults to None.
    """

    def __init__(self, loss_weight: float = 1.0, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.loss_weight = loss_weight

    def loss(self, logits: torch.Tensor,
             labels: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Mean cross entropy over ``labels != -100``.

        Args:
            logits: ``(K, V)`` or ``(B, L, V)``.
            labels: ``(K,)`` or ``(B, L)``; -100 = not selected.

        Returns:
            ``dict(loss_text=...)``; a zero loss still attached to the graph
            when no label is selected.
        """
        if logits.dim() == 3:
            logits = logits.reshape(-1, logits.shape[-1])
            labels = labels.reshape(-1)
        if logits.dim() != 2 or labels.shape != logits.shape[:1]:
            raise ValueError(f'logits {tuple(logits.shape)} and labels '
                             f'{tuple(labels.shape)} do not match')
        labels = labels.long()
        num_valid = (labels != IGNORE_INDEX).sum().clamp(min=1)
        total = F.cross_entropy(logits.float(), labels,
                                ignore_index=IGNORE_INDEX, reduction='sum')
        return dict(loss_text=total / num_valid * self.loss_weight)
