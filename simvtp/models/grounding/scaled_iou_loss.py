"""2D-TAN's scaled-IoU binary cross-entropy."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from ...registry import MODELS


@MODELS.register_module()
class ScaledIoULoss(nn.Module):
    """BCE between each proposal's score and its rescaled IoU.

    Target: ``t = (iou - min_iou) / (max_iou - min_iou) * (1 - bias)``,
    plus ``bias`` where ``t > 0``, clipped to ``[0, 1]``. The loss averages
    over the valid cells of the map (all samples together), as 2D-TAN does.

    Args:
        min_iou, max_iou: 0.5 / 1.0 (Charades, ActivityNet) or 0.3 / 0.7
            (TACoS).
        bias: 0 in all 2D-TAN configs.
        loss_weight: multiplies the loss.
    """

    def __init__(self, min_iou: float = 0.5, max_iou: float = 1.0,
                 bias: float = 0.0, loss_weight: float = 1.0) -> None:
        super().__init__()
        if not 0 <= min_iou < max_iou <= 1:
            raise ValueError(f'need 0 <= min_iou < max_iou <= 1, got '
                             f'{min_iou}, {max_iou}')
        self.min_iou, self.max_iou = float(min_iou), float(max_iou)
        self.bias = float(bias)
        self.loss_weight = float(loss_weight)

    def targets(self, iou: torch.Tensor) -> torch.Tensor:
        """Rescaled IoU targets, same shape as ``iou``."""
        t = (iou - self.min_iou) * (1 - self.bias) / (self.max_iou -
                                                      self.min_iou)
        t = torch.where(t > 0, t + self.bias, t)
        return t.clamp(0, 1)

    def forward(self, logits: torch.Tensor, iou: torch.Tensor,
                mask: torch.Tensor) -> torch.Tensor:
        """``(B, N, N)`` logits and IoUs, ``(N, N)`` bool mask -> scalar."""
        valid = mask.expand_as(logits)
        loss = F.binary_cross_entropy_with_logits(
            logits[valid], self.targets(iou)[valid].to(logits.dtype))
        return self.loss_weight * loss
