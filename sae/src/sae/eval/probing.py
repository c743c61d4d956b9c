"""Probing: how well SAE latents predict per-position labels (concepts).

Two layers in one module:

* the shared bionemo ``sae.eval.probing`` surface (same names, signatures, defaults and ``.npz``
  artifact): :class:`ActivationBuffer`, :func:`split_indices`, :func:`standardize`,
  :func:`auroc_all`, :func:`auroc_vec`, :func:`best_single_train_test`, :func:`annotate_features`,
  :func:`fit_logreg`, :func:`fit_softmax`, :func:`macro_auroc`, :func:`decode_eval`,
  :func:`domain_f1`;
* our extensions: :func:`auroc` / :func:`probe_features` (numpy, one-vs-rest per class with a
  train/test split) and :func:`label_metrics` / :func:`latent_groups` (per (feature, label)
  AUROC / precision / recall / F1, and per label the group of latents with precision >= p), and
  :func:`threshold_groups` / :func:`score_group` (the group of latent detectors, each latent above
  its own threshold, chosen on select rows and confirmed on validate rows; what recipes report).

AUROC everywhere is the Mann-Whitney statistic with ties counted one half, i.e. exactly the
pairwise definition P(score_pos > score_neg) + 0.5 P(score_pos == score_neg). (The upstream
library breaks ties arbitrarily by sort order; SAE codes are mostly exact zeros, so averaging tied
ranks is the only choice that makes the number a property of the data.) A label with no positive
or no negative position gets 0.5.

A latent "fires" at a position when its code is > 0 (TopK codes are exact zeros elsewhere).
"""

from __future__ import annotations

from dataclasses import dataclass

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


# ---------------------------------------------------------------- the upstream surface: artifact
@dataclass
class ActivationBuffer:
    """A probing buffer: SAE ``codes`` [N, F], bool ``labels`` [N, L] with ``label_names``, an
    optional dense twin [N, H] (the raw layer activation) and optional per-concept instance ids
    ``{concept: [N] int32, -1 outside any instance}``.

    ``.npz`` layout: ``codes``, ``labels``, ``label_names`` (a unicode array), optional ``dense``,
    and one ``inst_<concept>`` array per instance map. Loading never unpickles.
    """

    codes: np.ndarray
    labels: np.ndarray
    label_names: list
    dense: np.ndarray | None = None
    instances: dict[str, np.ndarray] | None = None

    def save(self, path) -> None:
        """Write the buffer to ``path`` (``np.savez``; numpy appends ``.npz`` if missing)."""
        arrays = {
            "codes": np.asarray(self.codes),
            "labels": np.asarray(self.labels),
            "label_names": np.asarray([str(n) for n in self.label_names], dtype=np.str_),
        }
        if self.dense is not None:
            arrays["dense"] = np.asarray(self.dense)
        for name, ids in (self.instances or {}).items():
            arrays[f"inst_{name}"] = np.asarray(ids)
        np.savez(path, **arrays)

    @classmethod
    def load(cls, path) -> ActivationBuffer:
        """Read a buffer written by :meth:`save` (``allow_pickle=False``)."""
        with np.load(path, allow_pickle=False) as z:
            files = set(z.files)
            missing = {"codes", "labels", "label_names"} - files
            if missing:
                raise ValueError(
                    f"{path}: not an ActivationBuffer .npz (missing {sorted(missing)})"
                )
            instances = {k[len("inst_") :]: z[k] for k in z.files if k.startswith("inst_")}
            return cls(
                codes=z["codes"],
                labels=z["labels"],
                label_names=[str(n) for n in z["label_names"]],
                dense=z["dense"] if "dense" in files else None,
                instances=instances or None,
            )

    @property
    def name_idx(self) -> dict[str, int]:
        """``{label name: column in labels}``."""
        return {name: i for i, name in enumerate(self.label_names)}


def split_indices(n, test_frac=0.4, seed=0):
    """Seeded random split of ``range(n)`` -> (train indices, test indices), ``int(n*test_frac)``
    in test."""
    perm = torch.randperm(int(n), generator=torch.Generator().manual_seed(int(seed)))
    n_test = int(n * test_frac)
    return perm[n_test:], perm[:n_test]


def standardize(X, tr):
    """Per-column (mean, std + 1e-6) of ``X`` over the train rows ``tr``."""
    rows = X[tr]
    return rows.mean(0), rows.std(0) + 1e-6


# ---------------------------------------------------------------- AUROC (ties averaged)
def _as_tensor(x) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))


def _avg_ranks_t(block: torch.Tensor) -> torch.Tensor:
    """Average 1-based ranks along dim 0 of ``block`` [N, C] (ties share their mean rank)."""
    cols = block.t().contiguous()  # [C, N]
    srt, order = torch.sort(cols, dim=1)
    lo = torch.searchsorted(srt, srt, right=False)
    hi = torch.searchsorted(srt, srt, right=True)
    avg = (lo + hi + 1).to(torch.float64) / 2.0
    ranks = torch.empty_like(avg).scatter_(1, order, avg)
    return ranks.t()  # [N, C]


@torch.no_grad()
def auroc_all(X, Y, chunk=1024):
    """AUROC of every column of ``X`` [N, F] against every bool column of ``Y`` [N, L] -> [F, L]
    (float32, on X's device); 0.5 where a label has no positives or no negatives."""
    X, Y = _as_tensor(X), _as_tensor(Y)
    if Y.ndim == 1:
        Y = Y[:, None]
    n, f = X.shape
    if Y.shape[0] != n:
        raise ValueError(f"auroc_all: X has {n} rows but Y has {Y.shape[0]}")
    y = Y.to(device=X.device, dtype=torch.float64)
    n_pos = y.sum(0)
    n_neg = n - n_pos
    valid = (n_pos > 0) & (n_neg > 0)
    out = torch.full((f, y.shape[1]), 0.5, dtype=torch.float64, device=X.device)
    # keep the per-block rank workspace near 2**24 elements whatever ``chunk`` says
    step = max(1, min(int(chunk), (1 << 24) // max(n, 1)))
    for c0 in range(0, f, step):
        ranks = _avg_ranks_t(X[:, c0 : c0 + step].double())
        u = y.t() @ ranks - (n_pos * (n_pos + 1) / 2)[:, None]  # [L, C]
        out[c0 : c0 + step] = (u / (n_pos * n_neg).clamp_min(1.0)[:, None]).t()
    out[:, ~valid] = 0.5
    return out.float()


@torch.no_grad()
def auroc_vec(scores, y):
    """AUROC (float) of one score vector against bool labels ``y``; 0.5 if degenerate."""
    scores, y = _as_tensor(scores), _as_tensor(y).bool()
    return float(auroc_all(scores.reshape(-1, 1), y.reshape(-1, 1))[0, 0])


@torch.no_grad()
def best_single_train_test(Xtr, ytr, Xte, yte, chunk=2048):
    """Choose the single column of ``Xtr`` that best separates ``ytr`` (by max(AUROC, 1-AUROC),
    so an anti-correlated column counts, flipped) and return ITS AUROC on the test rows, flipped
    the same way: no winner's curse. NaN when the train labels are all one class."""
    ytr = _as_tensor(ytr).bool().reshape(-1)
    n_pos = int(ytr.sum())
    if n_pos == 0 or n_pos == ytr.numel():
        return float("nan")
    a_tr = auroc_all(_as_tensor(Xtr), ytr[:, None], chunk=chunk)[:, 0]
    f = int(torch.maximum(a_tr, 1 - a_tr).argmax())
    a_te = auroc_vec(_as_tensor(Xte)[:, f].double(), yte)
    return float(1 - a_te) if bool(a_tr[f] < 0.5) else float(a_te)


@torch.no_grad()
def annotate_features(codes, labels, label_names, min_auroc: float = 0.8, chunk: int = 1024):
    """Per feature, the concept it separates best: ``[{"feature_id", "label", "auroc"}]`` for
    the features whose best AUROC is >= ``min_auroc`` (others stay unlabelled), sorted by
    feature id; ``auroc`` rounded to 4 decimals."""
    au = auroc_all(codes, labels, chunk=chunk)
    names = [str(n) for n in label_names]
    if au.shape[1] != len(names):
        raise ValueError(f"annotate_features: {au.shape[1]} label columns but {len(names)} names")
    if au.shape[1] == 0:
        return []
    best, which = au.max(dim=1)
    keep = torch.nonzero(best >= min_auroc).flatten().tolist()
    return [
        {"feature_id": int(f), "label": names[int(which[f])], "auroc": round(float(best[f]), 4)}
        for f in keep
    ]


# ---------------------------------------------------------------- linear probes
def _adam_fit(params, loss_fn, steps, lr, wd):
    opt = torch.optim.Adam(params, lr=lr, weight_decay=wd)
    with torch.enable_grad():
        for _ in range(int(steps)):
            opt.zero_grad()
            loss_fn().backward()
            opt.step()


def fit_logreg(Xtr, ytr, steps=400, lr=0.05, wd=1e-2):
    """Logistic-regression probe from zeros (Adam, BCE with logits) -> (w [D], b [1])."""
    w = torch.zeros(Xtr.shape[1], device=Xtr.device, requires_grad=True)
    b = torch.zeros(1, device=Xtr.device, requires_grad=True)
    target = ytr.float()
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    _adam_fit([w, b], lambda: bce(Xtr @ w + b, target), steps, lr, wd)
    return w.detach(), b.detach()


def fit_softmax(Xtr, ytr, nclass, steps=400, lr=0.05, wd=1e-2):
    """Multinomial probe from zeros (Adam, cross-entropy) -> (W [D, nclass], b [nclass])."""
    W = torch.zeros(Xtr.shape[1], nclass, device=Xtr.device, requires_grad=True)
    b = torch.zeros(nclass, device=Xtr.device, requires_grad=True)
    target = ytr.long()
    ce = torch.nn.functional.cross_entropy
    _adam_fit([W, b], lambda: ce(Xtr @ W + b, target), steps, lr, wd)
    return W.detach(), b.detach()


@torch.no_grad()
def macro_auroc(logits, y, nclass):
    """Mean one-vs-rest AUROC of ``logits[:, c]`` over the classes present with both signs in
    ``y`` -> (mean, number of classes scored); (0.0, 0) when none is."""
    scores = []
    for c in range(int(nclass)):
        yc = y == c
        if 0 < int(yc.sum()) < yc.numel():
            scores.append(auroc_vec(logits[:, c], yc))
    return (sum(scores) / max(1, len(scores))), len(scores)


def decode_eval(Xtr, ytr, Xte, yte, nclass, **kw):
    """Fit :func:`fit_softmax` on train (``kw`` passed on) -> test (accuracy, macro AUROC,
    classes scored)."""
    W, b = fit_softmax(Xtr, ytr, nclass, **kw)
    logits = Xte @ W + b
    accuracy = float((logits.argmax(1) == yte).float().mean())
    mean_auroc, n_scored = macro_auroc(logits, yte, nclass)
    return accuracy, mean_auroc, n_scored


@torch.no_grad()
def domain_f1(
    codes, fmax, concept_mask, inst_ids, thresholds=(0.15, 0.3, 0.5, 0.6, 0.8), chunk=1024
):
    """Domain-adjusted F1 per feature (InterPLM): a feature fires where ``codes / fmax > t``;
    precision is per position (firing positions inside the concept), recall per instance (the
    fraction of concept instances, ``inst_ids >= 0``, with at least one firing position). Returns
    (best F1 [F], the threshold that gave it [F]) over ``thresholds`` (first one wins ties);
    zeros when there is no instance."""
    P, F = codes.shape
    dev = codes.device
    best_f1 = torch.zeros(F, device=dev)
    best_t = torch.zeros(F, device=dev)
    inside = inst_ids >= 0
    uniq, inverse = torch.unique(inst_ids[inside], return_inverse=True)
    n_inst = int(uniq.numel())
    if n_inst == 0:
        return best_f1, best_t
    rows_inside = torch.nonzero(inside).flatten()
    mask = concept_mask.bool()
    for c0 in range(0, F, int(chunk)):
        c1 = min(c0 + int(chunk), F)
        scaled = codes[:, c0:c1].float() / fmax[c0:c1].float().clamp_min(1e-6)
        for t in thresholds:
            fire = scaled > t
            n_fire = fire.sum(0).float()
            hits = (fire & mask[:, None]).sum(0).float()
            precision = torch.where(
                n_fire > 0, hits / n_fire.clamp_min(1), torch.zeros_like(n_fire)
            )
            per_inst = torch.zeros(n_inst, c1 - c0, device=dev)
            per_inst.index_add_(0, inverse, fire[rows_inside].float())
            recall = (per_inst > 0).sum(0).float() / n_inst
            denom = precision + recall
            f1 = torch.where(
                denom > 0, 2 * precision * recall / denom.clamp_min(1e-12), torch.zeros_like(denom)
            )
            better = f1 > best_f1[c0:c1]
            best_f1[c0:c1] = torch.where(better, f1, best_f1[c0:c1])
            best_t[c0:c1] = torch.where(better, torch.full_like(f1, float(t)), best_t[c0:c1])
    return best_f1, best_t


# ---------------------------------------------------------------- label probing (extension)
@dataclass
class LabelMetrics:
    """Per (feature, label) scores of "feature fires" (code > 0) as a detector of the label.

    ``auroc``, ``precision``, ``recall``, ``f1``: [F, L] float arrays; ``n_fire`` [F] and
    ``n_pos`` [L] counts. Precision of a feature that never fires is 0.
    """

    label_names: list
    auroc: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    n_fire: np.ndarray
    n_pos: np.ndarray

    def best_concepts(self, min_auroc: float = 0.8) -> list[dict]:
        """Per feature its best label by AUROC (``annotate_features`` semantics), with that
        pair's precision/recall/F1: ``[{"feature_id", "label", "auroc", "precision", "recall",
        "f1"}]`` for the features with best AUROC >= ``min_auroc``."""
        if self.auroc.shape[1] == 0:
            return []
        which = self.auroc.argmax(1)
        out = []
        for f, j in enumerate(which):
            if self.auroc[f, j] >= min_auroc:
                out.append(
                    {
                        "feature_id": f,
                        "label": str(self.label_names[j]),
                        "auroc": round(float(self.auroc[f, j]), 4),
                        "precision": round(float(self.precision[f, j]), 4),
                        "recall": round(float(self.recall[f, j]), 4),
                        "f1": round(float(self.f1[f, j]), 4),
                    }
                )
        return out


def _label_matrix(labels, label_names) -> tuple[torch.Tensor, list]:
    Y = _as_tensor(labels)
    if Y.ndim == 1:
        Y = Y[:, None]
    names = [str(n) for n in label_names]
    if Y.shape[1] != len(names):
        raise ValueError(f"{Y.shape[1]} label columns but {len(names)} label names")
    return Y.bool(), names


@torch.no_grad()
def label_metrics(codes, labels, label_names, chunk: int = 1024) -> LabelMetrics:
    """AUROC, precision, recall and F1 of every feature (``codes`` [N, F]) for every label
    (``labels`` [N, L] bool)."""
    X = _as_tensor(codes)
    Y, names = _label_matrix(labels, label_names)
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"label_metrics: {X.shape[0]} rows of codes but {Y.shape[0]} of labels")
    au = auroc_all(X, Y, chunk=chunk).cpu().numpy().astype(np.float64)
    yf = Y.to(torch.float32)
    tp = torch.zeros(X.shape[1], Y.shape[1])
    n_fire = torch.zeros(X.shape[1])
    for r0 in range(0, X.shape[0], 65536):
        fire = (X[r0 : r0 + 65536] > 0).to(torch.float32)
        tp += fire.t() @ yf[r0 : r0 + 65536]
        n_fire += fire.sum(0)
    tp, n_fire = tp.double().numpy(), n_fire.double().numpy()
    n_pos = yf.sum(0).double().numpy()
    precision = np.divide(tp, n_fire[:, None], out=np.zeros_like(tp), where=n_fire[:, None] > 0)
    recall = np.divide(tp, n_pos[None, :], out=np.zeros_like(tp), where=n_pos[None, :] > 0)
    s = precision + recall
    f1 = np.divide(2 * precision * recall, s, out=np.zeros_like(tp), where=s > 0)
    return LabelMetrics(
        names, au, precision, recall, f1, n_fire.astype(np.int64), n_pos.astype(np.int64)
    )


@torch.no_grad()
def latent_groups(
    codes,
    labels,
    label_names,
    min_precision: float = 0.9,
    min_fires: int = 5,
    train_mask=None,
) -> dict[str, dict]:
    """Per label, the group of latents whose firing has precision >= ``min_precision`` for it
    (among latents firing at least ``min_fires`` times), chosen on the ``train_mask`` rows
    (default: all rows) and scored on the other rows (default: all rows):

    ``{label: {"features": [...], "precision": joint precision of "any group latent fires",
    "recall": joint recall of the same, "auroc": AUROC of the group's max code,
    "n_pos": positives scored, "n_features": group size}}``. An empty group scores recall 0 and
    AUROC 0.5.
    """
    X = _as_tensor(codes)
    Y, names = _label_matrix(labels, label_names)
    n = X.shape[0]
    if Y.shape[0] != n:
        raise ValueError(f"latent_groups: {n} rows of codes but {Y.shape[0]} of labels")
    if train_mask is None:
        tr = te = torch.arange(n)
    else:
        m = _as_tensor(train_mask).bool().reshape(-1)
        if m.numel() != n:
            raise ValueError(f"latent_groups: train_mask has {m.numel()} rows, codes {n}")
        tr, te = torch.nonzero(m).flatten(), torch.nonzero(~m).flatten()
    fit = label_metrics(X[tr], Y[tr], names)
    Xte, Yte = X[te], Y[te]
    out = {}
    for j, name in enumerate(names):
        feats = np.flatnonzero((fit.precision[:, j] >= min_precision) & (fit.n_fire >= min_fires))
        scored = score_group(Xte, Yte[:, j], [(int(f), 0.0) for f in feats])  # "fires": code > 0
        out[name] = {
            "features": [int(f) for f in feats],
            "n_features": int(feats.size),
            **scored,
        }
    return out


# Where a latent's detector threshold may sit: these quantiles of its positive codes on the
# select rows (0.0: the latent fires at all, code > 0).
DETECTOR_QUANTILES = (0.0, 0.25, 0.5, 0.75, 0.9)
MAX_DETECTORS = 512  # greedy pool per label: the precise detectors with the most hits


@torch.no_grad()
def _detector_counts(C, Y, quantiles, chunk=256):
    """Thresholds T [Q, F] at ``quantiles`` of each latent's positive codes in C [N, F], and
    for every detector "code > T[q, f]" its firings n [Q, F] and hits per label tp [Q, F, L]."""
    Yf = Y.to(torch.float32)
    F = C.shape[1]
    T = torch.zeros(len(quantiles), F)
    n = torch.zeros(len(quantiles), F)
    tp = torch.zeros(len(quantiles), F, Y.shape[1])
    for c0 in range(0, F, chunk):
        block = C[:, c0 : c0 + chunk].float()
        n_pos = (block > 0).sum(0)
        desc = block.sort(dim=0, descending=True).values if any(quantiles) else None
        for i, q in enumerate(quantiles):
            if q > 0:
                k = ((1.0 - q) * n_pos).long().clamp(max=block.shape[0] - 1)
                T[i, c0 : c0 + chunk] = desc.gather(0, k[None, :])[0].clamp(min=0.0)
            fire = (block > T[i, c0 : c0 + chunk][None, :]).to(torch.float32)
            n[i, c0 : c0 + chunk] = fire.sum(0)
            tp[i, c0 : c0 + chunk] = fire.t() @ Yf
    return T, n, tp


@torch.no_grad()
def threshold_groups(
    codes,
    labels,
    label_names,
    select,
    validate,
    min_precision: float = 0.9,
    min_fires: int = 20,
    quantiles=DETECTOR_QUANTILES,
) -> dict[str, list[tuple[int, float]]]:
    """Per label its group of latent detectors, ``{label: [(feature, threshold), ...]}``: the
    label is predicted where any ``codes[:, feature] > threshold``.

    Candidates: every (latent, threshold at one of ``quantiles`` of its positive codes on the
    ``select`` rows) with precision >= ``min_precision`` and >= ``min_fires`` firings there (at
    most ``MAX_DETECTORS``, most hits first). Greedy on the select rows: add the candidate whose
    NEW firings (rows not yet covered) hold the most positives, at precision >= ``min_precision``
    and at least ``min_fires // 4`` of them, so the group's joint precision stays >=
    ``min_precision``; then, in that order, keep each only while the joint precision on the
    ``validate`` rows stays >= ``min_precision``. One threshold per latent (its lowest chosen:
    the union is the same), in the greedy order (first: the detector covering most positives).
    ``labels`` [N, L] bool; ``select``/``validate`` [N] bool masks
    (whole sequences each, disjoint from the rows the group is then scored on).
    """
    X = _as_tensor(codes)
    Y, names = _label_matrix(labels, label_names)
    sel, val = _as_tensor(select).bool().reshape(-1), _as_tensor(validate).bool().reshape(-1)
    if not (X.shape[0] == Y.shape[0] == sel.numel() == val.numel()):
        raise ValueError(
            f"threshold_groups: {X.shape[0]} rows of codes, {Y.shape[0]} of labels, "
            f"{sel.numel()} select and {val.numel()} validate flags"
        )
    C, Ys = X[sel], Y[sel]
    T, n, tp = _detector_counts(C, Ys, quantiles)
    Xv, Yv = X[val], Y[val]
    min_new = max(1, min_fires // 4)
    out = {}
    for j, name in enumerate(names):
        ok = (n >= min_fires) & (tp[:, :, j] >= min_precision * n) & (tp[:, :, j] > 0)
        qi, fi = torch.nonzero(ok, as_tuple=True)
        hits = tp[qi, fi, j]
        top = torch.argsort(-hits, stable=True)[:MAX_DETECTORS]
        cands = [(int(fi[i]), float(T[qi[i], fi[i]])) for i in top.tolist()]
        order = _greedy_cover(C, Ys[:, j], cands, min_precision, min_new)
        fire = torch.zeros(Xv.shape[0], dtype=torch.bool)
        kept: dict[int, float] = {}
        for f, t in (cands[k] for k in order):
            trial = fire | (Xv[:, f] > t)
            n_fire = int(trial.sum())
            if n_fire == 0 or int((trial & Yv[:, j]).sum()) >= min_precision * n_fire:
                fire = trial
                kept[f] = min(t, kept.get(f, t))
        out[name] = list(kept.items())
    return out


def _greedy_cover(C, y, cands, min_precision, min_new) -> list[int]:
    """Indices into ``cands`` in the greedy order of :func:`threshold_groups`."""
    if not cands:
        return []
    A = torch.stack([(C[:, f] > t) for f, t in cands], 1).to(torch.float32)
    yf = y.to(torch.float32)
    free = torch.ones(C.shape[0])
    order: list[int] = []
    while len(order) < len(cands):
        new_tp, new_n = A.t() @ (yf * free), A.t() @ free
        ok = (new_tp >= min_new) & (new_tp >= min_precision * new_n)
        if order:
            ok[torch.as_tensor(order)] = False
        if not ok.any():
            break
        k = int(torch.where(ok, new_tp, torch.full_like(new_tp, -1.0)).argmax())
        order.append(k)
        free = free * (1.0 - A[:, k])
    return order


@torch.no_grad()
def group_score(codes, group) -> torch.Tensor:
    """Per row max over the group of (code - threshold): > 0 exactly where some group detector
    fires; the score whose AUROC is the group's. An empty group scores 0 everywhere."""
    X = _as_tensor(codes)
    if not group:
        return torch.zeros(X.shape[0])
    feats = torch.as_tensor([int(f) for f, _ in group])
    thr = torch.as_tensor([float(t) for _, t in group], dtype=torch.float32)
    return (X[:, feats].float() - thr[None, :]).max(1).values


def score_group(codes, labels, group) -> dict:
    """Joint precision/recall of "some group detector fires" and the AUROC of
    :func:`group_score` on these rows (0.5 when degenerate, e.g. no positives; an empty group
    scores recall 0): ``{"precision", "recall", "auroc", "n_pos"}``."""
    y = _as_tensor(labels).bool().reshape(-1)
    score = group_score(codes, group)
    fire = score > 0
    tp, n_fire, n_pos = int((fire & y).sum()), int(fire.sum()), int(y.sum())
    return {
        "precision": tp / n_fire if n_fire else 0.0,
        "recall": tp / n_pos if n_pos else 0.0,
        "auroc": auroc_vec(score, y),
        "n_pos": n_pos,
    }
