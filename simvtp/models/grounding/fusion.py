"""2D-TAN's fusion of a query vector with the proposal map."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from ...registry import MODELS


@MODELS.register_module()
class HadamardFusion(BaseModule):
    """``normalize(Linear(q) * Conv1x1(map))`` over channels, masked.

    Args:
        text_dims: query vector width (the query encoder's ``out_dims``).
        hidden_dims: map channels ``H``.
    """

    def __init__(self, text_dims: int, hidden_dims: int = 512,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.hidden_dims = int(hidden_dims)
        self.text_proj = nn.Linear(int(text_dims), self.hidden_dims)
        self.map_proj = nn.Conv2d(self.hidden_dims, self.hidden_dims, 1)

    def forward(self, query: torch.Tensor, proposal_map: torch.Tensor,
                mask: torch.Tensor) -> torch.Tensor:
        """``(B, Dt)`` query, ``(B, H, N, N)`` map, ``(N, N)`` mask ->
        ``(B, H, N, N)`` with unit-norm channel vectors on valid cells,
        0 elsewhere."""
        q = self.text_proj(query)[:, :, None, None]
        fused = F.normalize(q * self.map_proj(proposal_map), dim=1)
        return fused * mask.to(fused.dtype)
