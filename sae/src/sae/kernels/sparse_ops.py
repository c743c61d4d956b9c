"""Sparse building blocks for TopK SAEs: every op touches only the selected (row, latent) pairs.

A selection is a pair ``indices [B, m]`` (latent ids, int64) and ``values [B, m]``: row ``b``
of the implied sparse matrix ``S [B, n]`` holds ``values[b, j]`` at column ``indices[b, j]``
(repeated columns add up). The ops, all O(B·m·d) instead of the dense O(B·n·d):

- ``gather_rows_sum``: ``S @ W`` for ``W [n, d]`` (embedding_bag, no dense code tensor);
- ``sampled_rows_dot``: ``(Y @ W.T)`` read only at the selected entries -> ``[B, m]``;
- ``scatter_rows_sum``: ``S.T @ X`` -> ``[n, d]`` (the weight gradient), one CSR mat-mul.

``ReusableBuffer`` keeps the memory of such a per-step ``[n, d]`` result for the next step.
"""

from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F

# torch flags every CSR construction as "beta"; these CSR matrices are internal temporaries
warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")


class ReusableBuffer:
    """Memory for a large per-step result (a weight gradient), handed out again only once
    nothing else holds it.

    A fresh ``[n, d]`` tensor costs a page fault per 4 KiB every step (big blocks go back to the
    OS when freed), often more than the arithmetic that fills it. :meth:`take` returns a new
    tensor on the kept memory when every tensor it handed out before is gone (as after
    ``zero_grad(set_to_none=True)``), else on fresh memory that it keeps from then on: a
    result someone still holds (an accumulated ``.grad``, a saved copy) is never overwritten.
    """

    # torch's count of a storage's users; without it (another torch) memory is never reused
    _CAN_COUNT = hasattr(torch._C, "_storage_Use_Count")

    def __init__(self) -> None:
        self._mem: torch.Tensor | None = None
        self._idle_refs = -1

    @staticmethod
    def _refs(t: torch.Tensor) -> int:
        return torch._C._storage_Use_Count(t.untyped_storage()._cdata)

    def take(self, shape, stride, like: torch.Tensor) -> torch.Tensor:
        """Uninitialised tensor of ``shape``/``stride`` (dense, non-overlapping) like ``like``."""
        numel = math.prod(shape)
        mem = self._mem
        if (
            mem is None
            or mem.numel() != numel
            or mem.dtype != like.dtype
            or mem.device != like.device
            or not self._CAN_COUNT
            or self._refs(mem) != self._idle_refs
        ):
            mem = torch.empty(numel, dtype=like.dtype, device=like.device)
            self._mem = mem
            self._idle_refs = self._refs(mem) if self._CAN_COUNT else -1
        out = torch.empty(0, dtype=like.dtype, device=like.device)
        return out.set_(mem.untyped_storage(), 0, shape, stride)


def gather_rows_sum(indices: torch.Tensor, values: torch.Tensor, weight: torch.Tensor):
    """``out[b] = Σ_j values[b, j] · weight[indices[b, j]]`` -> ``[B, d]`` (no autograd graph)."""
    if indices.shape[1] == 0:
        return weight.new_zeros(indices.shape[0], weight.shape[1])
    return F.embedding_bag(indices, weight, per_sample_weights=values, mode="sum")


def _row_csr(indices: torch.Tensor, values: torch.Tensor, n: int) -> torch.Tensor:
    b, m = indices.shape
    crow = torch.arange(0, b * m + 1, m, device=indices.device, dtype=torch.int64)
    return torch.sparse_csr_tensor(
        crow, indices.reshape(-1), values.reshape(-1), (b, n), check_invariants=False
    )


def sampled_rows_dot(indices: torch.Tensor, y: torch.Tensor, weight: torch.Tensor):
    """``out[b, j] = <y[b], weight[indices[b, j]]>`` -> ``[B, m]``, never forming ``[B, n]``."""
    b, m = indices.shape
    if m == 0:
        return y.new_zeros(b, 0)
    if y.device.type in ("cpu", "cuda"):
        pattern = _row_csr(indices, y.new_zeros(b * m), weight.shape[0])
        out = torch.sparse.sampled_addmm(pattern, y, weight.t(), beta=0.0)
        return out.values().view(b, m)
    return torch.bmm(weight[indices], y.unsqueeze(-1)).squeeze(-1)  # other devices: gather


def scatter_rows_sum(
    indices: torch.Tensor,
    values: torch.Tensor,
    x: torch.Tensor,
    n: int,
    out: torch.Tensor | None = None,
):
    """``out[i] = Σ_{(b, j): indices[b, j] = i} values[b, j] · x[b]`` -> ``[n, d]``.

    Built as the CSR matrix of ``S.T`` (rows = latents, ordered by one stable sort of the B·m
    ids, so each latent sums its rows in batch order) times ``x``: a single sparse mat-mul
    written straight into the (uninitialised) result, instead of a dense ``[n, B] @ [B, d]``.
    ``out``: an optional contiguous ``[n, d]`` tensor to write it into (its contents are ignored).
    """
    b, m = indices.shape
    d = x.shape[1]
    if b * m == 0:
        return x.new_zeros(n, d) if out is None else out.zero_()
    flat = indices.reshape(-1)
    # latent ids < n fit int32 whenever n does; torch sorts int32 keys far faster than int64
    key = flat.to(torch.int32) if n <= torch.iinfo(torch.int32).max else flat
    order = torch.sort(key, stable=True).indices
    rows_of = torch.div(order, m, rounding_mode="floor")
    crow = torch.zeros(n + 1, dtype=torch.int64, device=x.device)
    torch.cumsum(torch.bincount(flat, minlength=n), 0, out=crow[1:])
    st = torch.sparse_csr_tensor(
        crow, rows_of, values.reshape(-1)[order], (n, b), check_invariants=False
    )
    out = x.new_empty(n, d) if out is None else out
    # beta=0: addmm ignores out's contents (documented), so no zero fill and no temporary
    return torch.addmm(out, st, x, beta=0.0, out=out)


def column_sums(indices: torch.Tensor, values: torch.Tensor, n: int) -> torch.Tensor:
    """``out[i] = Σ values[b, j]`` over entries with ``indices[b, j] = i`` -> ``[n]``."""
    out = values.new_zeros(n)
    return out.index_add_(0, indices.reshape(-1), values.reshape(-1))


def remove_parallel_rows(
    g: torch.Tensor, w: torch.Tensor, eps: float = 1e-12, out: torch.Tensor | None = None
) -> torch.Tensor:
    """``g[i] - <g[i], u[i]> u[i]`` with ``u[i] = w[i] / max(|w[i]|, eps)`` for ``g, w [n, d]``.

    Written as ``g - (<g[i], w[i]> / max(|w[i]|, eps)²) w[i]``: one batched dot product, one
    norm and one fused multiply-add, without the ``[n, d]`` temporaries of the direct form
    (equal to it up to fp32 rounding). Returns a new tensor laid out like ``g`` (or ``out``,
    which must not overlap ``g`` or ``w``).
    """
    n = g.shape[0]
    dots = torch.bmm(g.unsqueeze(1), w.unsqueeze(2)).view(n)
    coef = dots.div_(w.norm(dim=1).clamp_min_(eps).square_()).neg_()
    out = torch.empty_like(g) if out is None else out
    return torch.addcmul(g, w, coef.unsqueeze(1), out=out)
