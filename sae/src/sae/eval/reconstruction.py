"""Reconstruction quality: MSE, variance explained (R²) and FVU (normalised MSE).

Over N tokens of width H with inputs ``x`` and reconstructions ``x̂`` (input space):

* ``mse = Σ ||x - x̂||² / (N·H)``
* ``variance_explained = 1 - Σ_j Var(x - x̂)_j / Σ_j Var(x)_j`` (per-dimension variances)
* ``normalized_mse`` (FVU) ``= mse / (Σ_j Var(x)_j / H)``

``evaluate_reconstruction`` streams batches and sums per-batch variances, so its figures are
those of ``compute_reconstruction_metrics`` on each batch, weighted by batch size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from sae.eval._data import iter_batches
from sae.eval._report import summary_repr
from torch import nn

_EPS = 1e-8


@dataclass
class ReconstructionMetrics:
    """MSE, variance explained and MSE normalised by the input variance (FVU)."""

    mse: float
    variance_explained: float
    normalized_mse: float

    __repr__ = summary_repr(
        "ReconstructionMetrics(mse={mse:.6f}, var_explained={variance_explained:.4f}, "
        "norm_mse={normalized_mse:.6f})"
    )


def compute_mse(original: torch.Tensor, reconstructed: torch.Tensor) -> float:
    """Mean squared error over all elements."""
    return float(F.mse_loss(reconstructed, original))


def compute_variance_explained(
    original: torch.Tensor, reconstructed: torch.Tensor, eps: float = _EPS
) -> float:
    """R² = 1 - Σ Var(residual) / Σ Var(original), variances per dimension over samples."""
    total = torch.var(original, dim=0).sum()
    residual = torch.var(original - reconstructed, dim=0).sum()
    return float(1.0 - residual / (total + eps))


def compute_normalized_mse(
    original: torch.Tensor, reconstructed: torch.Tensor, eps: float = _EPS
) -> float:
    """MSE / Var(original) (variance over all elements): 0 perfect, 1 as bad as the mean."""
    return float(F.mse_loss(reconstructed, original) / (torch.var(original) + eps))


def compute_reconstruction_metrics(
    original: torch.Tensor, reconstructed: torch.Tensor
) -> ReconstructionMetrics:
    """All three metrics for one pair of [N, H] tensors."""
    return ReconstructionMetrics(
        mse=compute_mse(original, reconstructed),
        variance_explained=compute_variance_explained(original, reconstructed),
        normalized_mse=compute_normalized_mse(original, reconstructed),
    )


def compute_batch_reconstruction_metrics(
    original: torch.Tensor, reconstructed: torch.Tensor
) -> dict[str, float]:
    """``compute_reconstruction_metrics`` as a dict (for training-loop logging)."""
    m = compute_reconstruction_metrics(original, reconstructed)
    return {
        "mse": m.mse,
        "variance_explained": m.variance_explained,
        "normalized_mse": m.normalized_mse,
    }


@torch.no_grad()
def evaluate_reconstruction(
    sae: nn.Module, embeddings, batch_size: int = 1024, device: str = "cpu"
) -> ReconstructionMetrics:
    """Stream ``embeddings`` through ``sae`` (forward -> (recon, codes)); see the module docstring.

    ``embeddings``: an [N, H] tensor, or (extension) an activation store or iterable of batches.
    """
    sae = sae.eval().to(device)
    sq_err = var_total = var_resid = 0.0
    n = width = 0
    for batch in iter_batches(embeddings, batch_size):
        x = batch.to(device).float()
        recon, _ = sae(x)
        b = x.shape[0]
        sq_err += float(F.mse_loss(recon, x, reduction="sum"))
        if b > 1:  # a one-row batch has no variance
            var_total += float(torch.var(x, dim=0).sum()) * b
            var_resid += float(torch.var(x - recon, dim=0).sum()) * b
        n, width = n + b, x.shape[1]
    if n == 0:
        raise ValueError("evaluate_reconstruction: no evaluation data")
    elements = n * width
    mse = sq_err / elements
    return ReconstructionMetrics(
        mse=mse,
        variance_explained=1.0 - var_resid / (var_total + _EPS),
        normalized_mse=mse / (var_total / elements + _EPS),
    )
