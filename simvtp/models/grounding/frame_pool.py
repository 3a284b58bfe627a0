"""2D-TAN's clip feature pooling: project, then average to ``N`` clips."""
import torch
import torch.nn as nn
from mmengine.model import BaseModule

from ...registry import MODELS


@MODELS.register_module()
class FrameAvgPool(BaseModule):
    """``Conv1d(D, H, 1)`` + ReLU, then ``AvgPool1d(kernel, stride)``.

    Args:
        in_channels: feature width ``D`` (the extractor's; ViT-B: 768).
        hidden_dims: ``H`` (2D-TAN: 512).
        kernel_size, stride: temporal pooling; 2D-TAN pools its 256 sampled
            clips with ``kernel = stride = 256 / N`` (Charades 16,
            ActivityNet 4, TACoS 2).
    """

    def __init__(self, in_channels: int, hidden_dims: int = 512,
                 kernel_size: int = 16, stride: int = 16,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_channels = int(in_channels)
        self.hidden_dims = int(hidden_dims)
        self.proj = nn.Conv1d(self.in_channels, self.hidden_dims, 1)
        self.pool = nn.AvgPool1d(kernel_size, stride)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, N_in, D)`` -> ``(B, H, N)``, ``N = (N_in - k) // s + 1``."""
        if features.dim() != 3 or features.shape[-1] != self.in_channels:
            raise ValueError(
                f'features must be (B, N_in, {self.in_channels}), got '
                f'{tuple(features.shape)}: set the frame pool\'s '
                'in_channels to the width of the extracted features')
        return self.pool(torch.relu(self.proj(features.transpose(1, 2))))
