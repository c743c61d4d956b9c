"""Sparsity: mean L0, feature utilisation on the evaluation set, dead latents (training counter).

``features_used`` counts latents that fired at least once on the evaluation tokens (grows with
the sample); ``dead_pct``/``n_dead`` use the one dead-latent definition of
``sae.eval.dead_latents`` (-1 when the model keeps no counter).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from sae.eval._data import iter_batches
from sae.eval._report import summary_repr
from sae.eval.dead_latents import counter_dead_mask
from torch import nn


@dataclass
class SparsityMetrics:
    """Sparsity statistics of an SAE on evaluation activations."""

    mean_l0: float
    n_features: int
    # latents that fired at least once on the evaluation tokens (grows with the sample)
    features_used: int
    features_unused: int
    feature_utilization_pct: float
    n_eval_tokens: int
    # the training-time counter (sae.eval.dead_latents); -1 when the model keeps none
    dead_pct: float = -1.0
    n_dead: int = -1
    dead_tokens_threshold: int = -1

    __repr__ = summary_repr(
        "SparsityMetrics(L0={mean_l0:.2f}, utilization={feature_utilization_pct:.1f}%, "
        "dead={n_dead}/{n_features} ({dead_pct:.1f}%))"
    )


@torch.no_grad()
def evaluate_sparsity(
    sae: nn.Module, embeddings, batch_size: int = 1024, device: str = "cpu"
) -> SparsityMetrics:
    """Mean L0 and utilisation over ``embeddings`` (tensor, or store/iterable as an extension)."""
    sae = sae.eval().to(device)
    n_features = int(sae.hidden_dim)
    fired = torch.zeros(n_features, dtype=torch.bool, device=device)
    l0_sum, n = 0.0, 0
    for batch in iter_batches(embeddings, batch_size):
        codes = sae.encode(batch.to(device).float())
        active = codes != 0
        l0_sum += float(active.sum())
        fired |= active.any(dim=0)
        n += codes.shape[0]
    if n == 0:
        raise ValueError("evaluate_sparsity: no evaluation data")
    used = int(fired.sum())
    dead = counter_dead_mask(sae)
    n_dead = int(dead.sum()) if dead is not None else -1
    return SparsityMetrics(
        mean_l0=l0_sum / n,
        n_features=n_features,
        features_used=used,
        features_unused=n_features - used,
        feature_utilization_pct=100.0 * used / n_features,
        n_eval_tokens=n,
        dead_pct=100.0 * n_dead / n_features if dead is not None else -1.0,
        n_dead=n_dead,
        dead_tokens_threshold=int(sae.dead_tokens_threshold) if dead is not None else -1,
    )
