"""2D-TAN's convolutions over the proposal map, normalised by valid cells.

Each layer is ``Conv2d`` + ReLU; its output at a cell is then divided by
the number of valid cells the kernel saw there (cells outside the valid
area get weight 0), and the valid area grows to every cell that saw at
least one valid cell. The first layer pads by half the total kernel
growth, so the last layer's output is ``N x N`` again.
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from ...registry import MODELS

__all__ = ['MapConv', 'masked_conv_weights']


def masked_conv_weights(mask: torch.Tensor, conv: nn.Conv2d
                        ) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(new valid mask, weight)`` after ``conv`` for a ``(1, 1, H, W)``
    float mask: weight = 1 / (valid cells under the kernel), 0 where none.
    """
    ones = mask.new_ones(1, 1, *conv.kernel_size)
    count = torch.round(F.conv2d(mask, ones, stride=conv.stride,
                                 padding=conv.padding,
                                 dilation=conv.dilation))
    valid = count > 0
    weight = torch.where(valid, 1.0 / count.clamp(min=1),
                         torch.zeros_like(count))
    return valid.to(mask.dtype), weight


@MODELS.register_module()
class MapConv(BaseModule):
    """Stacked masked ``Conv2d`` + ReLU over the ``(B, C, N, N)`` map.

    Args:
        in_channels: input channels.
        hidden_dims: output channels of each layer (2D-TAN: 512 each).
        kernel_sizes: one per layer (Charades/TACoS 5 x 8, ActivityNet
            9 x 4).
        first_padding: padding of the first layer; None: ``sum(k - 1) /
            2`` over the layers, which keeps the map ``N x N`` (2D-TAN's
            16 for all three datasets); later layers have none.
    """

    def __init__(self, in_channels: int = 512,
                 hidden_dims: Sequence[int] = (512, ) * 8,
                 kernel_sizes: Sequence[int] = (5, ) * 8,
                 first_padding: Optional[int] = None,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if len(hidden_dims) != len(kernel_sizes) or not hidden_dims:
            raise ValueError(f'hidden_dims {list(hidden_dims)} and '
                             f'kernel_sizes {list(kernel_sizes)} must be '
                             'non-empty and of equal length')
        growth = sum(int(k) - 1 for k in kernel_sizes)
        if first_padding is None:
            if growth % 2:
                raise ValueError(f'kernel sizes {list(kernel_sizes)} grow '
                                 'the map by an odd number of cells; give '
                                 'first_padding')
            first_padding = growth // 2
        self.out_channels = int(hidden_dims[-1])
        channels: List[int] = [int(in_channels)] + [int(h)
                                                    for h in hidden_dims]
        self.convs = nn.ModuleList([
            nn.Conv2d(channels[i], channels[i + 1], int(k),
                      padding=first_padding if i == 0 else 0)
            for i, k in enumerate(kernel_sizes)])

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``(B, C, N, N)`` map + ``(N, N)`` valid mask -> ``(B, C', N,
        N)``."""
        valid = mask.to(x.dtype)[None, None]
        for conv in self.convs:
            x = F.relu(conv(x))
            valid, weight = masked_conv_weights(valid, conv)
            x = x * weight
        return x
