"""Answer classifier of open-ended video QA."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from simvtp.registry import MODELS


@MODELS.register_module()
class QAClassifierHead(BaseModule):
    """ClipBERT's ``mlp`` answer classifier on a pooled joint feature:
    ``Linear(D, 2D) -> GELU -> LayerNorm -> Dropout -> Linear(2D, A)``.

    Written here rather than mmpretrain's ``StackedLinearClsHead``: that
    head normalises before the activation and its loss takes mmpretrain
    data samples without an ignore index, while questions whose answers are
    all outside the vocabulary must be ignored (label -1).

    Args:
        in_channels (int): ``D``, the encoder width.
        num_classes (int): ``A``, the answer vocabulary size.
        hidden_ratio (float): hidden width ``= hidden_ratio * D`` (2).
        dropout (float): before the output layer.
        loss_weight (float): Defaults to 1.
    """

    def __init__(self, in_channels: int, num_classes: int,
                 hidden_ratio: float = 2.0, dropout: float = 0.1,
                 loss_weight: float = 1.0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_classes < 1:
            raise ValueError(f'num_classes must be >= 1, got {num_classes}')
        hidden = int(round(hidden_ratio * in_channels))
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.loss_weight = loss_weight
        self.fc1 = nn.Linear(in_channels, hidden)
        self.norm = nn.LayerNorm(hidden, eps=1e-12)
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        """``(B, D)`` -> logits ``(B, A)``."""
        x = self.norm(F.gelu(self.fc1(feat)))
        return self.fc2(self.dropout(x))

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> dict:
        """Cross entropy over the answers; label -1 (no answer in the
        vocabulary) is ignored. ``acc`` counts answerable questions."""
        logits = logits.float()
        valid = labels >= 0
        loss = F.cross_entropy(logits, labels, ignore_index=-1,
                               reduction='sum') / valid.sum().clamp(min=1)
        acc = ((logits.argmax(1) == labels) & valid).float().sum() / \
            valid.sum().clamp(min=1)
        return dict(loss=loss * self.loss_weight, acc=acc.detach())
