"""``evaluate_sae``: the post-training suite (reconstruction, sparsity, optional extras).

Reconstruction and sparsity always run; loss recovered and recipe-specific metrics run through
callables the recipe passes, so model-specific code stays in the recipe. A failing optional
metric is reported as a warning and left out, never fatal.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sae.eval.loss_recovered import LossRecoveredResult
from sae.eval.reconstruction import ReconstructionMetrics, evaluate_reconstruction
from sae.eval.sparsity import SparsityMetrics, evaluate_sparsity
from torch import nn

_SPARSITY_KEYS = (
    "mean_l0",
    "n_features",
    "feature_utilization_pct",
    "features_used",
    "features_unused",
    "n_eval_tokens",
    "dead_pct",
    "n_dead",
    "dead_tokens_threshold",
)
_LOSS_KEYS = ("loss_recovered", "ce_original", "ce_sae", "ce_zero", "n_tokens")


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, (list, dict)) and len(str(value)) > 80:
        return f"({len(value)} items)"
    return str(value)


@dataclass
class EvalResults:
    """Everything ``evaluate_sae`` measured; ``custom`` holds the recipe's own metrics."""

    reconstruction: ReconstructionMetrics
    sparsity: SparsityMetrics
    loss_recovered: LossRecoveredResult | None = None
    custom: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready dict: ``reconstruction``, ``sparsity``, ``loss_recovered``, custom names."""
        r = self.reconstruction
        out: dict[str, Any] = {
            "reconstruction": {
                "mse": r.mse,
                "variance_explained": r.variance_explained,
                "normalized_mse": r.normalized_mse,
            },
            "sparsity": {k: getattr(self.sparsity, k) for k in _SPARSITY_KEYS},
        }
        if self.loss_recovered is not None:
            out["loss_recovered"] = {k: getattr(self.loss_recovered, k) for k in _LOSS_KEYS}
        out.update(self.custom)
        return out

    def save(self, path) -> None:
        """Write ``to_dict()`` as indented JSON (parent folders created)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2))

    def print_summary(self) -> None:
        """Human-readable summary on stdout."""
        r, s, lr = self.reconstruction, self.sparsity, self.loss_recovered
        rule = "=" * 60
        lines = [
            "",
            rule,
            "EVALUATION RESULTS",
            rule,
            "",
            "Reconstruction:",
            f"  MSE:                {r.mse:.6f}",
            f"  Variance Explained: {r.variance_explained:.4f}",
            f"  FVU:                {r.normalized_mse:.6f}",
            "",
            "Sparsity:",
            f"  Mean L0:            {s.mean_l0:.2f}",
            f"  Feature utilization: {s.features_used}/{s.n_features} "
            f"({s.feature_utilization_pct:.1f}%) fired on {s.n_eval_tokens:,} eval tokens",
        ]
        if s.dead_pct >= 0:
            lines.append(
                f"  Dead latents:       {s.n_dead}/{s.n_features} ({s.dead_pct:.1f}%) "
                f"inactive > {s.dead_tokens_threshold:,} tokens"
            )
        if lr is not None:
            lines += [
                "",
                "Loss Recovered:",
                f"  Score:       {lr.loss_recovered:.1%}",
                f"  CE Original: {lr.ce_original:.4f}",
                f"  CE SAE:      {lr.ce_sae:.4f}",
                f"  CE Zero:     {lr.ce_zero:.4f}",
                f"  Tokens:      {lr.n_tokens}",
            ]
        for name, value in self.custom.items():
            lines += ["", f"{name}:"]
            if isinstance(value, dict):
                lines += [f"  {k}: {_fmt(v)}" for k, v in value.items()]
            else:
                lines.append(f"  {value}")
        lines.append(rule)
        print("\n".join(lines))

    def __repr__(self) -> str:
        parts = [f"  reconstruction: {self.reconstruction}", f"  sparsity: {self.sparsity}"]
        if self.loss_recovered is not None:
            parts.append(f"  loss_recovered: {self.loss_recovered}")
        if self.custom:
            parts.append(f"  custom: {list(self.custom)}")
        return "EvalResults(\n" + "\n".join(parts) + "\n)"


def evaluate_sae(
    sae: nn.Module,
    embeddings,
    batch_size: int = 1024,
    device: str = "cpu",
    loss_recovered_fn: Callable[[], LossRecoveredResult] | None = None,
    custom_metrics: dict[str, Callable[[], Any]] | None = None,
    reconstruction: ReconstructionMetrics | None = None,
) -> EvalResults:
    """Reconstruction (unless given) and sparsity on ``embeddings``, then the optional metrics.

    ``embeddings``: [N, H] tensor, or (extension) an activation store or iterable of batches.
    ``loss_recovered_fn()`` -> ``LossRecoveredResult``; ``custom_metrics``: name -> callable
    returning a JSON-ready value (e.g. ``{"probing": lambda: probe_features(codes, labels)}``).
    """
    if reconstruction is None:
        print("Computing reconstruction metrics...")
        reconstruction = evaluate_reconstruction(sae, embeddings, batch_size, device)
    if not math.isfinite(float(reconstruction.mse)):
        raise ValueError(
            f"evaluate_sae: the reconstruction MSE is {reconstruction.mse} -- the activations "
            "or the SAE's weights hold NaN/Inf (an activation store names the bad shard when "
            "read); check the model's dtype and inputs, or the checkpoint"
        )
    print("Computing sparsity statistics...")
    sparsity = evaluate_sparsity(sae, embeddings, batch_size, device)
    lr = None
    if loss_recovered_fn is not None:
        print("Computing loss recovered...")
        try:
            lr = loss_recovered_fn()
        except Exception as exc:  # an optional metric never sinks the report
            print(f"Warning: loss recovered failed: {exc}")
    custom: dict[str, Any] = {}
    for name, fn in (custom_metrics or {}).items():
        print(f"Computing {name}...")
        try:
            custom[name] = fn()
        except Exception as exc:
            print(f"Warning: {name} failed: {exc}")
    return EvalResults(reconstruction, sparsity, lr, custom)
