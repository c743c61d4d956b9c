"""Dead latents: the one definition used by training logs and by evaluation.

A latent is **dead** when the SAE's training-time counter says it has not fired for more than
``dead_tokens_threshold`` training tokens (``stats_last_nonzero``; our older TopKSAE called the
counter ``tokens_since_fired``). ``counter_dead_pct`` reads that counter; the Trainer logs it as
``dead_pct`` and ``evaluate_sparsity`` reports it as ``dead_pct``, so the training curve and the
evaluation summary show the same figure. Latents that merely did not fire on a finite evaluation
set are *unused* (``SparsityMetrics.features_unused``), a sample-size dependent figure.

``DeadLatentTracker`` is the window variant: latents that did not fire since its last ``reset``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class DeadLatentStats:
    """Dead-latent counts (``dead_indices`` lists the dead latents)."""

    n_dead: int
    n_total: int
    dead_pct: float
    dead_indices: list[int]

    def __repr__(self) -> str:
        return f"DeadLatentStats(dead={self.n_dead}/{self.n_total} ({self.dead_pct:.1f}%))"


def counter_dead_mask(sae: nn.Module) -> torch.Tensor | None:
    """Bool [hidden_dim]: latents inactive for more than ``dead_tokens_threshold`` tokens.

    None when the model keeps no such counter (e.g. a ReLU SAE)."""
    threshold = getattr(sae, "dead_tokens_threshold", None)
    if threshold is None:
        return None
    counter = getattr(sae, "stats_last_nonzero", None)
    if isinstance(counter, torch.Tensor):
        return counter > threshold
    counter = getattr(sae, "tokens_since_fired", None)
    if isinstance(counter, torch.Tensor):
        return counter >= threshold  # the older counter counts the token that made it dead
    return None


def counter_dead_pct(sae: nn.Module) -> float | None:
    """% of latents dead by the training counter (see the module docstring); None without one."""
    mask = counter_dead_mask(sae)
    if mask is None or mask.numel() == 0:
        return None
    return 100.0 * float(mask.float().mean())


class DeadLatentTracker:
    """Which latents fired (code > ``eps``) since the last ``reset``."""

    def __init__(self, hidden_dim: int, device: str = "cpu", eps: float = 1e-3):
        self.hidden_dim = hidden_dim
        self.device = device
        self.eps = eps
        self.recently_active = torch.zeros(hidden_dim, dtype=torch.bool, device=device)
        self._last_avg_nonzero = 0.0

    @torch.no_grad()
    def update(self, codes: torch.Tensor) -> None:
        """Mark the latents active in ``codes`` [B, hidden_dim]; remember the batch's mean L0."""
        active = codes.to(self.device) > self.eps
        self.recently_active |= active.any(dim=0)
        self._last_avg_nonzero = float(active.sum(dim=-1).float().mean())

    def get_stats(self) -> dict:
        """-> ``{dead_pct, n_dead, n_total, avg_nonzero}`` for the current window."""
        n_dead = int((~self.recently_active).sum())
        return {
            "dead_pct": 100.0 * n_dead / self.hidden_dim,
            "n_dead": n_dead,
            "n_total": self.hidden_dim,
            "avg_nonzero": self._last_avg_nonzero,
        }

    def reset(self) -> None:
        """Start a new window."""
        self.recently_active.zero_()
