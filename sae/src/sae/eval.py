"""SAE evaluation: reconstruction, sparsity, dead latents, loss recovered, probing.

Definitions (the one place they are written down): over N evaluation tokens with inputs ``x``
and reconstructions ``x̂`` (input space),

* ``mse = Σ ||x - x̂||² / (N·H)``
* ``fvu = Σ ||x - x̂||² / Σ ||x - mean(x)||²`` (fraction of variance unexplained; the mean is
  over all N tokens), ``variance_explained = 1 - fvu``
* ``l0`` = mean number of non-zero codes per token; ``dead_pct`` = % of latents that never fire
  on the evaluation set
* ``loss_recovered = (ce_zero - ce_sae) / (ce_zero - ce_orig)``: cross-entropy with the layer
  output zero-ablated, replaced by the SAE reconstruction, and clean
* probing: per-feature AUROC of each latent's activation against per-position labels (binary, or
  one-vs-rest per class); the best single feature is chosen on a train split and its AUROC is
  reported on the held-out split.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn


@dataclass
class EvalResult:
    """Everything ``evaluate_sae`` measured; ``to_dict()`` / ``save(path)`` (JSON)."""

    n_tokens: int = 0
    mse: float = float("nan")
    fvu: float = float("nan")
    variance_explained: float = float("nan")
    l0: float = float("nan")
    dead_pct: float = float("nan")
    n_dead: int = 0
    loss_recovered: dict | None = None
    probing: dict | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    def save(self, path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True, default=float))


def _batches(data, batch_size: int) -> Iterable[torch.Tensor]:
    if isinstance(data, torch.Tensor):
        for i in range(0, data.shape[0], batch_size):
            yield data[i : i + batch_size]
        return
    if hasattr(data, "iter_shards"):
        for shard in data.iter_shards():
            yield from _batches(torch.as_tensor(shard), batch_size)
        return
    for b in data:
        yield b[0] if isinstance(b, (list, tuple)) else b


@torch.no_grad()
def reconstruction_metrics(
    sae: nn.Module, data, batch_size: int = 4096, device: str | torch.device = "cpu"
) -> dict:
    """MSE, FVU, variance explained, L0 and dead latents over ``data`` (see module docstring).

    Two passes are avoided with the identity Σ||x-μ||² = Σ||x||² - N||μ||².
    """
    sae = sae.to(device).eval()
    n, err, sq, s = 0, 0.0, 0.0, None
    l0_sum = 0.0
    fired = None
    for x in _batches(data, batch_size):
        x = x.to(device).float()
        recon, codes = sae(x)
        err += float((x - recon).double().pow(2).sum())
        sq += float(x.double().pow(2).sum())
        s = x.double().sum(0) if s is None else s + x.double().sum(0)
        active = codes > 0
        l0_sum += float(active.sum())
        f = active.any(0)
        fired = f if fired is None else fired | f
        n += x.shape[0]
    if n == 0:
        raise ValueError("reconstruction_metrics: no evaluation data")
    h = s.shape[0]
    var = sq - float(s.pow(2).sum()) / n
    fvu = err / max(var, 1e-12)
    n_dead = int((~fired).sum())
    return {
        "n_tokens": n,
        "mse": err / (n * h),
        "fvu": fvu,
        "variance_explained": 1.0 - fvu,
        "l0": l0_sum / n,
        "n_dead": n_dead,
        "dead_pct": 100.0 * n_dead / fired.numel(),
    }


@contextlib.contextmanager
def replace_output(module: nn.Module, fn: Callable[[torch.Tensor], torch.Tensor]):
    """Forward hook replacing the module's (first) output with ``fn(output)``; tuples kept."""

    def hook(_mod, _inp, out):
        if isinstance(out, tuple):
            return (fn(out[0]),) + tuple(out[1:])
        if isinstance(out, torch.Tensor):
            return fn(out)
        if hasattr(out, "keys"):  # HF ModelOutput / dict: replace the first field
            key = next(iter(out.keys()))
            out[key] = fn(out[key])
            return out
        raise TypeError(f"replace_output: cannot substitute into a {type(out).__name__} output")

    handle = module.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def _sae_apply(sae: nn.Module, h: torch.Tensor) -> torch.Tensor:
    shape = h.shape
    flat = h.reshape(-1, shape[-1]).float()
    recon, _ = sae(flat)
    return recon.to(h.dtype).reshape(shape)


@torch.no_grad()
def loss_recovered(
    sae: nn.Module,
    layer_module: nn.Module,
    run_loss: Callable[[object], float],
    batches: Iterable,
    device: str | torch.device = "cpu",
) -> dict:
    """Loss recovered by substituting the SAE reconstruction at ``layer_module``'s output.

    ``run_loss(batch) -> float`` runs the model on a batch and returns its mean cross-entropy
    (e.g. an HF ``EsmForMaskedLM`` forward with ``labels``). The layer's first output is replaced
    by zeros (ce_zero) or ``sae(output)`` (ce_sae); ``ce_orig`` is the clean loss.
    """
    sae = sae.to(device).eval()
    ce = {"orig": 0.0, "sae": 0.0, "zero": 0.0}
    n = 0
    for batch in batches:
        ce["orig"] += float(run_loss(batch))
        with replace_output(layer_module, lambda h: _sae_apply(sae, h)):
            ce["sae"] += float(run_loss(batch))
        with replace_output(layer_module, torch.zeros_like):
            ce["zero"] += float(run_loss(batch))
        n += 1
    if n == 0:
        raise ValueError("loss_recovered: no batches")
    orig, sae_ce, zero = (ce[k] / n for k in ("orig", "sae", "zero"))
    denom = zero - orig
    frac = (zero - sae_ce) / denom if abs(denom) > 1e-12 else float("nan")
    return {"ce_orig": orig, "ce_sae": sae_ce, "ce_zero": zero, "loss_recovered": frac}


def auroc(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """AUROC per column of ``scores`` [N, F] against binary ``labels`` [N] (ties averaged)."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim == 1:
        scores = scores[:, None]
    labels = np.asarray(labels).astype(bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return np.full(scores.shape[1], np.nan)
    ranks = _rankdata(scores)
    return (ranks[labels].sum(0) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def _rankdata(a: np.ndarray) -> np.ndarray:
    """Average ranks (1-based) per column, ties averaged."""
    n, f = a.shape
    order = np.argsort(a, axis=0, kind="mergesort")
    sorted_a = np.take_along_axis(a, order, axis=0)
    ranks = np.empty_like(a)
    idx = np.arange(1, n + 1, dtype=np.float64)
    for j in range(f):
        col = sorted_a[:, j]
        _, start, counts = np.unique(col, return_index=True, return_counts=True)
        avg = start + (counts + 1) / 2.0
        r = np.repeat(avg, counts) if len(counts) != n else idx
        ranks[order[:, j], j] = r
    return ranks


def probe_features(
    codes: torch.Tensor | np.ndarray,
    labels,
    train_fraction: float = 0.5,
    seed: int = 0,
    min_positives: int = 5,
) -> dict:
    """Best-single-feature AUROC per class (one-vs-rest), chosen on train, scored on held-out.

    ``labels`` is per position: a sequence of class labels (ints or characters, e.g. the string
    ``"HHHEEECCC"`` or residue identities) or booleans for a binary task.
    """
    codes = codes.detach().cpu().numpy() if isinstance(codes, torch.Tensor) else np.asarray(codes)
    labels = np.asarray(list(labels) if isinstance(labels, str) else labels)
    if codes.shape[0] != labels.shape[0]:
        raise ValueError(
            f"probe_features: {codes.shape[0]} positions of codes but {labels.shape[0]} labels"
        )
    rng = np.random.default_rng(seed)
    perm = rng.permutation(codes.shape[0])
    n_train = int(round(train_fraction * codes.shape[0]))
    tr, te = perm[:n_train], perm[n_train:]
    alive = np.flatnonzero(codes[tr].max(0) > 0)
    classes = [True] if labels.dtype == bool else sorted(set(labels.tolist()))
    out = {}
    for cls in classes:
        y = labels == cls
        if y[tr].sum() < min_positives or (~y[tr]).sum() < min_positives or y[te].sum() == 0:
            continue
        if alive.size == 0:
            continue
        train_auc = auroc(codes[tr][:, alive], y[tr])
        best = int(np.nanargmax(train_auc))
        feat = int(alive[best])
        out[str(cls)] = {
            "feature": feat,
            "train_auroc": float(train_auc[best]),
            "test_auroc": float(auroc(codes[te][:, feat], y[te])[0]),
            "n_positive": int(y.sum()),
        }
    mean = float(np.mean([v["test_auroc"] for v in out.values()])) if out else float("nan")
    return {
        "per_class": out,
        "mean_test_auroc": mean,
        "n_train": int(n_train),
        "n_test": int(len(te)),
    }


def evaluate_sae(
    sae: nn.Module,
    data,
    batch_size: int = 4096,
    device: str | torch.device = "cpu",
    loss_recovered_args: dict | None = None,
    probe_codes=None,
    probe_labels=None,
    extra: dict | None = None,
) -> EvalResult:
    """Run every metric that has inputs; -> ``EvalResult``.

    ``data``: tensor, store or iterable of batches (held-out activations).
    ``loss_recovered_args``: kwargs for ``loss_recovered`` (layer_module, run_loss, batches).
    ``probe_codes``/``probe_labels``: activations [N, H] (encoded here) and per-position labels.
    """
    rec = reconstruction_metrics(sae, data, batch_size=batch_size, device=device)
    result = EvalResult(**rec, extra=dict(extra or {}))
    if loss_recovered_args:
        result.loss_recovered = loss_recovered(sae, device=device, **loss_recovered_args)
    if probe_codes is not None and probe_labels is not None:
        with torch.no_grad():
            acts = torch.as_tensor(probe_codes).float().to(device)
            codes = torch.cat([sae.to(device).eval()(b)[1].cpu() for b in acts.split(batch_size)])
        result.probing = probe_features(codes, probe_labels)
    return result
