"""Collectives used by the latent-sharded (tensor-parallel) SAE; ``group=None`` = default group."""

from __future__ import annotations

import torch
import torch.distributed as dist


def all_gather_cat(tensor: torch.Tensor, group=None, dim: int = 0) -> torch.Tensor:
    """Gather ``tensor`` from every rank of ``group`` and concatenate the parts along ``dim``."""
    parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size(group))]
    dist.all_gather(parts, tensor.contiguous(), group=group)
    return torch.cat(parts, dim=dim)


def all_reduce_sum(tensor: torch.Tensor, group=None) -> torch.Tensor:
    """Sum ``tensor`` over the ranks, in place (no autograd); returns it."""
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM, group=group)
    return tensor


class _SumAcrossRanks(torch.autograd.Function):
    """Forward: sum of the per-rank tensors. Backward: identity.

    The sum is replicated and every rank computes the same loss from it, so each rank's
    incoming gradient already is d(loss)/d(its own part).
    """

    @staticmethod
    def forward(ctx, x, group):
        out = x.clone()
        dist.all_reduce(out, op=dist.ReduceOp.SUM, group=group)
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad, None


def autograd_all_reduce_sum(x: torch.Tensor, group=None) -> torch.Tensor:
    """Differentiable sum over ranks (combines partial reconstructions)."""
    return _SumAcrossRanks.apply(x, group)
