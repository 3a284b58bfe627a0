"""Distributed helpers: gathering features across ranks with gradients."""
from typing import Tuple

import torch
import torch.distributed as dist
from mmengine.dist import get_dist_info


def get_rank_and_world() -> Tuple[int, int]:
    """``(rank, world_size)``; ``(0, 1)`` when not distributed."""
    rank, world_size = get_dist_info()
    return rank, world_size


class _AllGatherWithGrad(torch.autograd.Function):
    """``all_gather`` + ``cat`` whose backward routes gradients to the owner.

    Every rank computes its own loss over the gathered tensor, so the gradient
    of the *total* loss (sum over ranks) with respect to this rank's input is
    the sum over ranks of the incoming gradient, restricted to this rank's
    rows: all_reduce(SUM), then slice.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        rank, world_size = get_rank_and_world()
        x = x.contiguous()
        gathered = [torch.empty_like(x) for _ in range(world_size)]
        dist.all_gather(gathered, x)
        ctx.rank = rank
        ctx.batch_size = x.shape[0]
        return torch.cat(gathered, dim=0)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> torch.Tensor:
        grad = grad_output.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad.narrow(0, ctx.rank * ctx.batch_size, ctx.batch_size)


def all_gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Gather ``x`` (``(B, ...)``) from every rank into ``(world * B, ...)``.

    Rows are in rank order (rank 0's ``B`` rows first). Every rank must pass
    the same shape. Gradients flow back to each rank's own slice, summed over
    the losses of all ranks (the DDP convention: DDP then averages parameter
    gradients over ranks). Returns ``x`` itself when not distributed or with
    a single process.
    """
    _, world_size = get_rank_and_world()
    if world_size == 1:
        return x
    return _AllGatherWithGrad.apply(x)


def all_gather_tensor(x: torch.Tensor) -> torch.Tensor:
    """Gather ``x`` (``(B, ...)``, no gradient: ids, labels) from every rank
    into ``(world * B, ...)`` in rank order; ``x`` itself with one process."""
    _, world_size = get_rank_and_world()
    if world_size == 1:
        return x
    x = x.contiguous()
    gathered = [torch.empty_like(x) for _ in range(world_size)]
    dist.all_gather(gathered, x)
    return torch.cat(gathered, dim=0)
