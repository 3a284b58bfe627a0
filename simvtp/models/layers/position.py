"""Position tables shared by the encoder and the decoders.

The fixed table follows the reference (VideoMAE/SimVTP) formula: for token
index ``pos`` and channel ``j`` of a ``D``-dim table,
``angle = pos / 10000 ** (2 * (j // 2) / D)``; even channels take ``sin`` and
odd channels take ``cos`` (interleaved, not concatenated). It is computed in
float64 and cast to float32 at the end. The table is 1-D over the flattened
token index ``(t', h', w')``, so it does not depend on the grid shape, only on
the number of tokens.
"""
from typing import Dict, Sequence, Tuple

import torch
import torch.nn.functional as F

__all__ = ['sincos_table', 'interpolate_pos_embed', 'SinCosCache']


def sincos_table(num_positions: int, dims: int) -> torch.Tensor:
    """Fixed interleaved sin-cos position table.

    Args:
        num_positions (int): Number of positions ``N`` (token indices
            ``0 .. N-1``).
        dims (int): Channel count ``D``.

    Returns:
        torch.Tensor: ``(N, D)`` float32 table; ``table[p, 2i] =
        sin(p / 10000^(2i/D))`` and ``table[p, 2i+1] = cos(p / 10000^(2i/D))``.
    """
    if num_positions < 0 or dims <= 0:
        raise ValueError(f'sincos_table needs num_positions >= 0 and '
                         f'dims > 0, got {num_positions} and {dims}')
    pos = torch.arange(num_positions, dtype=torch.float64)[:, None]
    j = torch.arange(dims, dtype=torch.float64)
    exponent = 2.0 * torch.div(j, 2, rounding_mode='floor') / dims
    angles = pos / torch.pow(torch.tensor(10000.0, dtype=torch.float64),
                             exponent)[None, :]
    table = torch.empty_like(angles)
    table[:, 0::2] = torch.sin(angles[:, 0::2])
    table[:, 1::2] = torch.cos(angles[:, 1::2])
    return table.to(torch.float32)


def _as_grid(grid: Sequence[int], name: str) -> Tuple[int, int, int]:
    grid = tuple(int(g) for g in grid)
    if len(grid) != 3 or min(grid) <= 0:
        raise ValueError(f'{name} must be 3 positive ints (T, H, W), '
                         f'got {grid}')
    return grid


def interpolate_pos_embed(pos: torch.Tensor, old_grid: Sequence[int],
                          new_grid: Sequence[int]) -> torch.Tensor:
    """Trilinearly resize a learnable video position table to a new grid.

    Args:
        pos (torch.Tensor): ``(1, N, D)`` table with
            ``N = old_grid[0] * old_grid[1] * old_grid[2]``, token order
            ``(t', h', w')``.
        old_grid (Sequence[int]): ``(T', H', W')`` the table was built for.
        new_grid (Sequence[int]): Target ``(T'', H'', W'')``.

    Returns:
        torch.Tensor: ``(1, N', D)`` with ``N' = prod(new_grid)``, same
        dtype and device as ``pos`` (interpolation runs in float32).
    """
    old_grid = _as_grid(old_grid, 'old_grid')
    new_grid = _as_grid(new_grid, 'new_grid')
    if pos.dim() != 3 or pos.shape[0] != 1:
        raise ValueError(f'pos must be (1, N, D), got {tuple(pos.shape)}')
    n_old = old_grid[0] * old_grid[1] * old_grid[2]
    if pos.shape[1] != n_old:
        raise ValueError(f'pos has {pos.shape[1]} tokens but old_grid '
                         f'{old_grid} implies {n_old}')
    if old_grid == new_grid:
        return pos
    dims = pos.shape[-1]
    grid = pos.reshape(1, *old_grid, dims).permute(0, 4, 1, 2, 3)
    out = F.interpolate(grid.float(), size=new_grid, mode='trilinear',
                        align_corners=False)
    out = out.permute(0, 2, 3, 4, 1).reshape(1, -1, dims)
    return out.to(pos.dtype)


class SinCosCache:
    """Per-(N, device, dtype) cache of :func:`sincos_table` for one width.

    Not an ``nn.Module`` and holds no parameters or buffers, so the tables
    never reach a state dict.

    Args:
        dims (int): Channel count ``D`` of the tables.
    """

    def __init__(self, dims: int):
        self.dims = int(dims)
        self._tables: Dict[tuple, torch.Tensor] = {}

    def __call__(self, num_positions: int, device=None,
                 dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Return the ``(num_positions, D)`` table on ``device``/``dtype``."""
        device = torch.device(device) if device is not None else \
            torch.device('cpu')
        key = (int(num_positions), str(device), dtype)
        table = self._tables.get(key)
        if table is None:
            # Build a normal tensor even under ``torch.inference_mode`` so a
            # table cached during evaluation can be reused in training.
            with torch.inference_mode(False), torch.no_grad():
                table = sincos_table(int(num_positions), self.dims).to(
                    device=device, dtype=dtype)
            self._tables[key] = table
        return table

    def clear(self) -> None:
        """Drop every cached table."""
        self._tables.clear()
