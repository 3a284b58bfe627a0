"""2D-TAN's sparse 2D temporal map of proposal features.

Cell ``(i, j)`` of an ``N x N`` map is the proposal spanning clips ``i ..
j``. Its feature comes from a stack of 1-D layers over the clip features:
within a scale, each layer widens every position by the scale's stride
(``Conv1d(H, H, 2)`` or ``MaxPool1d(2, 1)``); a new scale starts with a
stride-2 layer (``Conv1d(H, H, 3, stride=2)`` / ``MaxPool1d(3, 2)``). Output
position ``m`` of a layer covers clips ``m * stride .. m * stride + width -
1``; that cell of the map receives it. ``num_scale_layers=[16]`` (Charades,
N=16) fills every cell ``i <= j``; ``[16, 8, 8]`` (ActivityNet, N=64) fills
all short proposals and ever sparser long ones. No activation between the
layers, as in 2D-TAN.
"""
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from ...registry import MODELS

__all__ = ['SparsePropMap', 'sparse_layer_geometry', 'sparse_proposal_mask']


def sparse_layer_geometry(num_scale_layers: Sequence[int]
                          ) -> List[Tuple[int, int, int, int]]:
    """``(kernel, layer_stride, stride, width)`` of every layer in order.

    ``stride`` is the clip distance between the layer's output positions,
    ``width`` the number of clips each position covers.
    """
    geometry = []
    stride, width = 1, 0
    for scale, num_layers in enumerate(num_scale_layers):
        if num_layers < 1:
            raise ValueError(f'num_scale_layers must be >= 1 each, got '
                             f'{list(num_scale_layers)}')
        for layer in range(num_layers):
            if layer == 0 and scale == 0:
                kernel, step, width = 1, 1, 1
            elif layer == 0:
                kernel, step = 3, 2
                width += 2 * stride  # covers inputs 2m .. 2m + 2
                stride *= 2
            else:
                kernel, step = 2, 1
                width += stride
            geometry.append((kernel, step, stride, width))
    return geometry


def _cells(num_clips: int, stride: int, width: int) -> torch.Tensor:
    """Start clips of a layer's output positions that fit in the map."""
    return torch.arange(0, num_clips - width + 1, stride)


def sparse_proposal_mask(num_clips: int,
                         num_scale_layers: Sequence[int]) -> torch.Tensor:
    """``(N, N)`` bool: the cells the sparse map fills."""
    mask = torch.zeros(num_clips, num_clips, dtype=torch.bool)
    for _, _, stride, width in sparse_layer_geometry(num_scale_layers):
        starts = _cells(num_clips, stride, width)
        mask[starts, starts + width - 1] = True
    return mask


@MODELS.register_module()
class SparsePropMap(BaseModule):
    """Sparse 2D proposal map (2D-TAN's ``SparsePropConv`` / ``MaxPool``).

    Args:
        hidden_dims: channels ``H`` (input and output).
        num_scale_layers: layers per scale (Charades ``[16]``, ActivityNet
            ``[16, 8, 8]``, TACoS ``[16, 8, 8, 8]``).
        mode: ``'conv'`` (learned, 2D-TAN's best) or ``'pool'`` (max).
    """

    def __init__(self, hidden_dims: int = 512,
                 num_scale_layers: Sequence[int] = (16, ),
                 mode: str = 'conv', init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if mode not in ('conv', 'pool'):
            raise ValueError(f"mode must be 'conv' or 'pool', got {mode!r}")
        self.hidden_dims = int(hidden_dims)
        self.num_scale_layers = [int(n) for n in num_scale_layers]
        self.mode = mode
        self.geometry = sparse_layer_geometry(self.num_scale_layers)
        layers = []
        for kernel, step, _, _ in self.geometry:
            if mode == 'conv':
                layers.append(nn.Conv1d(hidden_dims, hidden_dims, kernel,
                                        step))
            else:
                layers.append(nn.MaxPool1d(kernel, step))
        self.layers = nn.ModuleList(layers)
        self._index_cache = {}

    def _index(self, num_clips: int, device) -> Tuple[list, torch.Tensor,
                                                      torch.Tensor]:
        key = (num_clips, str(device))
        if key not in self._index_cache:
            counts, flat = [], []
            for _, _, stride, width in self.geometry:
                starts = _cells(num_clips, stride, width)
                counts.append(len(starts))
                flat.append(starts * num_clips + starts + width - 1)
            mask = sparse_proposal_mask(num_clips, self.num_scale_layers)
            self._index_cache[key] = (counts, torch.cat(flat).to(device),
                                      mask.to(device))
        return self._index_cache[key]

    def forward(self, clips: torch.Tensor
                ) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(B, H, N)`` clip features -> ``((B, H, N, N) map, (N, N)
        bool mask)``; cells outside the mask are 0."""
        batch, dims, num_clips = clips.shape
        counts, flat, mask = self._index(num_clips, clips.device)
        outputs, x = [], clips
        for layer, count in zip(self.layers, counts):
            if count == 0:
                break  # longer proposals do not fit in N clips
            x = layer(x)
            assert x.shape[-1] >= count, (x.shape, count)
            outputs.append(x[..., :count])
        values = torch.cat(outputs, dim=-1)  # (B, H, P)
        out = clips.new_zeros(batch, dims, num_clips * num_clips)
        out[..., flat[:values.shape[-1]]] = values
        return out.view(batch, dims, num_clips, num_clips), mask
