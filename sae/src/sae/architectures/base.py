"""The ``SparseAutoencoder`` interface and the helpers every architecture shares."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

NORM_EPS = 1e-8  # added to the per-token std (and to loss denominators), as in the reference


def standardize(x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Per-token zero mean / unit (unbiased) std -> ``(x_norm, {"mu", "std"})``."""
    mu = x.mean(dim=-1, keepdim=True)
    std = x.std(dim=-1, keepdim=True) + NORM_EPS
    return (x - mu) / std, {"mu": mu, "std": std}


def unstandardize(x: torch.Tensor, info: dict[str, torch.Tensor]) -> torch.Tensor:
    """Inverse of :func:`standardize` with its saved statistics."""
    return x * info["std"] + info["mu"]


@torch.no_grad()
def geometric_median(data: torch.Tensor, max_iter: int = 100, eps: float = 1e-6) -> torch.Tensor:
    """Weiszfeld iterations from the mean (float32, CPU); stops when a step moves < ``eps``.

    On convergence the estimate from before the final (sub-``eps``) step is kept.
    """
    pts = torch.as_tensor(data).detach().float().cpu()
    est = pts.mean(dim=0)
    for _ in range(int(max_iter)):
        w = 1.0 / (pts - est).norm(dim=1, keepdim=True).clamp(min=1e-8)
        nxt = (pts * w).sum(dim=0) / w.sum()
        if (nxt - est).norm() < eps:
            break
        est = nxt
    return est


class SparseAutoencoder(nn.Module, ABC):
    """Interface: ``encode`` / ``decode`` (abstract), ``forward`` -> (recon, codes), ``loss``,
    ``post_step`` (called by the trainer after each optimizer step)."""

    def __init__(self, input_dim: int, hidden_dim: int):
        super().__init__()
        self.input_dim = int(input_dim)
        self.hidden_dim = int(hidden_dim)

    @abstractmethod
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Input ``[..., input_dim]`` -> codes ``[..., hidden_dim]``."""

    @abstractmethod
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes ``[..., hidden_dim]`` -> reconstruction ``[..., input_dim]``."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        codes = self.encode(x)
        return self.decode(codes), codes

    def loss(self, x: torch.Tensor, **kwargs) -> dict[str, torch.Tensor]:
        """Plain MSE objective plus the mean L0 of the codes (logged as ``sparsity``)."""
        recon, codes = self(x)
        return {
            "total": F.mse_loss(recon, x),
            "sparsity": (codes != 0).float().sum(dim=-1).mean(),
        }

    def post_step(self) -> None:
        """Hook after ``optimizer.step()``; nothing by default."""
        return None


def variance_explained(x: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
    """``1 - Σ_d var_b(recon - x) / Σ_d var_b(x)`` over the batch (unbiased variances)."""
    with torch.no_grad():
        total = torch.var(x, dim=0).sum()
        resid = torch.var(recon - x, dim=0).sum()
        return 1.0 - resid / (total + NORM_EPS)


def keep_hparams(module: nn.Module, args: Mapping[str, Any], names: Iterable[str]) -> None:
    """Set ``module.<name> = args[name]`` for each of ``names`` (constructor arguments kept for
    ``_get_config`` and checkpoints; ``args`` is usually the constructor's ``locals()``)."""
    for name in names:
        setattr(module, name, args[name])


def affine_pair(
    d_in: int, n_latents: int
) -> tuple[nn.Parameter, nn.Linear, nn.Parameter, nn.Linear]:
    """Fresh ``(pre_bias [d_in], encoder d_in->n, latent_bias [n], decoder n->d_in)``, zero biases
    and bias-free linears, in the order an SAE registers them (optimizer state lines up)."""
    return (
        nn.Parameter(torch.zeros(d_in)),
        nn.Linear(d_in, n_latents, bias=False),
        nn.Parameter(torch.zeros(n_latents)),
        nn.Linear(n_latents, d_in, bias=False),
    )
