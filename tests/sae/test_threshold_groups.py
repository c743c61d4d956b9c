"""sae.eval.probing.threshold_groups / group_score / score_group, each against an independent
oracle: plain-Python set arithmetic for the greedy choice, pair counting for AUROC."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from sae.eval.probing import group_score, score_group, threshold_groups


def greedy_oracle(codes, y, sel, val, p, min_fires):
    """The documented rule with thresholds 0 only, in sets: candidates fire >= min_fires times
    on select rows at precision >= p; repeatedly take the one whose not-yet-covered select
    firings hold the most positives (>= min_fires // 4, precision >= p; ties: most hits, then
    lowest id); then keep in that order while the validate joint precision stays >= p."""
    rows = [set(np.flatnonzero(sel & (codes[:, f] > 0))) for f in range(codes.shape[1])]
    pos = set(np.flatnonzero(sel & y))
    cands = [f for f in range(codes.shape[1])
             if len(rows[f]) >= min_fires and len(rows[f] & pos) >= p * len(rows[f])
             and rows[f] & pos]  # fmt: skip
    cands.sort(key=lambda f: (-len(rows[f] & pos), f))
    covered, order = set(), []
    while True:
        best = None
        for f in cands:
            if f in order:
                continue
            new = rows[f] - covered
            hits = len(new & pos)
            if hits >= max(1, min_fires // 4) and hits >= p * len(new):
                if best is None or hits > best[0]:
                    best = (hits, f)
        if best is None:
            break
        order.append(best[1])
        covered |= rows[best[1]]
    fire, kept = set(), []
    vpos = set(np.flatnonzero(val & y))
    for f in order:
        trial = fire | set(np.flatnonzero(val & (codes[:, f] > 0)))
        if not trial or len(trial & vpos) >= p * len(trial):
            fire = trial
            kept.append(f)
    return kept


def pair_auroc(scores, y) -> float:
    pos, neg = scores[y], scores[~y]
    wins = sum((a > b) + 0.5 * (a == b) for a, b in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


@pytest.mark.parametrize("seed", range(6))
def test_greedy_choice_matches_a_set_oracle(seed):
    rng = np.random.default_rng(seed)
    n, F = 900, 24
    y = rng.random(n) < 0.3
    codes = np.zeros((n, F), dtype=np.float32)
    for f in range(F):  # latents of every precision and coverage
        cover, noise = rng.uniform(0.05, 0.6), rng.uniform(0.0, 0.08)
        fire = (y & (rng.random(n) < cover)) | (~y & (rng.random(n) < noise))
        codes[fire, f] = rng.uniform(0.5, 2.0, int(fire.sum()))
    part = rng.integers(0, 3, n)
    sel, val = part == 0, part == 1
    got = threshold_groups(codes, y[:, None], ["L"], sel, val, min_fires=8, quantiles=(0.0,))
    assert [f for f, _ in got["L"]] == greedy_oracle(codes, y, sel, val, 0.9, 8)
    assert all(t == 0.0 for _, t in got["L"])
    # what the rule promises: joint precision >= 0.9 on the select and on the validate rows
    fire = np.zeros(n, dtype=bool)
    for f, _ in got["L"]:
        fire |= codes[:, f] > 0
    for rows in (sel, val):
        if (fire & rows).any():
            assert (fire & rows & y).sum() >= 0.9 * (fire & rows).sum()


def test_a_latent_precise_only_above_a_threshold_joins_with_that_threshold():
    rng = np.random.default_rng(0)
    n = 3000
    y = rng.random(n) < 0.3
    codes = np.zeros((n, 3), dtype=np.float32)
    codes[y, 0] = 3.0  # strong on every positive ...
    weak = ~y & (rng.random(n) < 0.5)
    codes[weak, 0] = 1.0  # ... and weak on half the negatives: precision 0.46 at code > 0
    codes[rng.random(n) < 0.4, 1] = 1.0  # unrelated
    part = np.repeat(np.arange(3), n // 3)
    got = threshold_groups(codes, np.stack([y, ~y], 1), ["A", "B"], part == 0, part == 1)
    (f, t), *rest = got["A"]
    assert f == 0 and 1.0 <= t < 3.0 and rest == []
    r = score_group(codes[part == 2], y[part == 2], got["A"])
    assert r["precision"] == 1.0 and r["recall"] == 1.0 and r["auroc"] == 1.0
    assert got["B"] == []  # nothing fires on B alone at precision 0.9 (latent 1: 0.7)


def test_group_score_and_score_group_by_counting():
    rng = np.random.default_rng(1)
    n = 60
    codes = np.where(rng.random((n, 4)) < 0.4, rng.uniform(0.1, 2.0, (n, 4)), 0.0).astype(
        np.float32
    )
    y = rng.random(n) < 0.4
    group = [(2, 0.5), (0, 0.0)]
    score = group_score(torch.from_numpy(codes), group).numpy()
    want = np.maximum(codes[:, 2] - 0.5, codes[:, 0])
    np.testing.assert_allclose(score, want, rtol=0, atol=1e-6)
    fire = (codes[:, 2] > 0.5) | (codes[:, 0] > 0)
    r = score_group(codes, y, group)
    assert r["precision"] == pytest.approx((fire & y).sum() / fire.sum())
    assert r["recall"] == pytest.approx((fire & y).sum() / y.sum())
    assert r["auroc"] == pytest.approx(pair_auroc(want, y))
    assert r["n_pos"] == int(y.sum())
    empty = score_group(codes, y, [])
    assert empty["recall"] == 0.0 and empty["precision"] == 0.0 and empty["auroc"] == 0.5


def test_threshold_groups_refuses_mismatched_rows():
    with pytest.raises(ValueError, match="threshold_groups"):
        threshold_groups(np.zeros((5, 2)), np.zeros((4, 1), bool), ["L"], np.ones(5, bool),
                         np.ones(5, bool))  # fmt: skip
