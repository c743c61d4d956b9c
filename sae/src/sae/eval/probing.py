"""Probing (extension): how well single SAE latents predict per-position labels.

Per-feature AUROC of each latent's activation against per-position labels (binary, or one-vs-rest
per class); the best single feature is chosen on a train split and its AUROC reported on the
held-out split.
"""

from __future__ import annotations

import numpy as np
import torch


def auroc(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """AUROC per column of ``scores`` [N, F] against binary ``labels`` [N] (ties averaged)."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim == 1:
        scores = scores[:, None]
    labels = np.asarray(labels).astype(bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return np.full(scores.shape[1], np.nan)
    return _auroc_from_ranks(_rankdata(scores), labels)


def _auroc_from_ranks(ranks: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Mann-Whitney AUROC per column from average ranks (NaN when a class is empty)."""
    labels = np.asarray(labels).astype(bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return np.full(ranks.shape[1], np.nan)
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
    train_mask=None,
) -> dict:
    """Best-single-feature AUROC per class (one-vs-rest), chosen on train, scored on held-out.

    ``labels`` is per position: a sequence of class labels (ints or characters, e.g. the string
    ``"HHHEEECCC"`` or residue identities) or booleans for a binary task. ``train_mask`` (bool
    per position) fixes the split, e.g. whole sequences on each side; default: a random
    ``train_fraction`` of the positions.
    """
    codes = codes.detach().cpu().numpy() if isinstance(codes, torch.Tensor) else np.asarray(codes)
    labels = np.asarray(list(labels) if isinstance(labels, str) else labels)
    if codes.shape[0] != labels.shape[0]:
        raise ValueError(
            f"probe_features: {codes.shape[0]} positions of codes but {labels.shape[0]} labels"
        )
    if train_mask is not None:
        train_mask = np.asarray(train_mask, dtype=bool)
        tr, te = np.flatnonzero(train_mask), np.flatnonzero(~train_mask)
        n_train = len(tr)
    else:
        perm = np.random.default_rng(seed).permutation(codes.shape[0])
        n_train = int(round(train_fraction * codes.shape[0]))
        tr, te = perm[:n_train], perm[n_train:]
    alive = np.flatnonzero(codes[tr].max(0) > 0)
    classes = [True] if labels.dtype == bool else sorted(set(labels.tolist()))
    train_ranks = _rankdata(codes[tr][:, alive].astype(np.float64)) if alive.size else None
    out = {}
    for cls in classes:
        y = labels == cls
        if y[tr].sum() < min_positives or (~y[tr]).sum() < min_positives or y[te].sum() == 0:
            continue
        if alive.size == 0:
            continue
        train_auc = _auroc_from_ranks(train_ranks, y[tr])
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
