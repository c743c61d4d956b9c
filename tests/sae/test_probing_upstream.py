"""sae.eval.probing, upstream surface and label probing, each against an independent oracle
(AUROC by counting pairs, precision/recall by counting rows, hand-worked examples)."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from sae.eval import probing
from sae.eval.probing import (
    ActivationBuffer,
    annotate_features,
    auroc_all,
    auroc_vec,
    best_single_train_test,
    decode_eval,
    domain_f1,
    fit_logreg,
    label_metrics,
    latent_groups,
    macro_auroc,
    split_indices,
    standardize,
)

_HERE = Path(__file__).resolve()
UPSTREAM = (
    next(
        (
            p
            for p in (_HERE.parents[3] / "shared", _HERE.parents[4] / "shared")
            if (p / "reference" / "bionemo-sae-upstream").is_dir()
        ),
        _HERE.parents[3] / "shared",
    )
    / "reference"
    / "bionemo-sae-upstream"
    / "src"
    / "sae"
)


def pair_auroc(scores, y) -> float:
    """Oracle: P(score_pos > score_neg) + 0.5 P(tie), counted over all (pos, neg) pairs."""
    pos = [s for s, t in zip(scores, y, strict=True) if t]
    neg = [s for s, t in zip(scores, y, strict=True) if not t]
    if not pos or not neg:
        return 0.5
    wins = sum(1.0 if p > q else 0.5 if p == q else 0.0 for p, q in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


@pytest.fixture
def tied():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 4, size=(60, 7)).astype(np.float32)  # many ties, like sparse codes
    X[:, 6] = 0.0  # a dead feature
    Y = rng.random((60, 4)) < 0.3
    Y[:, 2] = X[:, 1] > 1  # a feature that predicts a label
    Y[:, 3] = False  # degenerate label
    return X, Y


def test_auroc_all_equals_pair_counting_with_ties(tied):
    X, Y = tied
    got = auroc_all(torch.tensor(X), torch.tensor(Y), chunk=3).numpy()
    want = np.array(
        [[pair_auroc(X[:, f], Y[:, j]) for j in range(Y.shape[1])] for f in range(X.shape[1])]
    )
    assert got.shape == (7, 4)
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert got[1, 2] > 0.9 and np.all(got[:, 3] == 0.5) and np.allclose(got[6], 0.5)
    for f, j in [(0, 0), (1, 2), (5, 1)]:
        assert auroc_vec(torch.tensor(X[:, f]), torch.tensor(Y[:, j])) == pytest.approx(
            want[f, j], abs=1e-6
        )


def test_best_single_is_chosen_on_train_and_scored_on_test_with_flip():
    rng = np.random.default_rng(1)
    y = rng.random(200) < 0.4
    X = rng.normal(size=(200, 5))
    X[:, 3] = -2.0 * y + rng.normal(scale=0.8, size=200)  # anti-correlated: the best |AUROC|
    tr, te = np.arange(120), np.arange(120, 200)
    got = best_single_train_test(
        torch.tensor(X[tr]), torch.tensor(y[tr]), torch.tensor(X[te]), torch.tensor(y[te])
    )
    assert got == pytest.approx(1 - pair_auroc(X[te, 3], y[te]), abs=1e-6)
    assert got > 0.8
    nan = best_single_train_test(
        torch.tensor(X[tr]),
        torch.zeros(120, dtype=torch.bool),
        torch.tensor(X[te]),
        torch.tensor(y[te]),
    )
    assert np.isnan(nan)


def test_annotate_features_keeps_best_label_above_threshold(tied):
    X, Y = tied
    names = ["a", "b", "c", "d"]
    got = annotate_features(torch.tensor(X), torch.tensor(Y), names, min_auroc=0.6)
    want = []
    for f in range(X.shape[1]):
        scores = [pair_auroc(X[:, f], Y[:, j]) for j in range(4)]
        j = int(np.argmax(scores))
        if scores[j] >= 0.6:
            want.append((f, names[j], round(scores[j], 4)))
    assert [(d["feature_id"], d["label"], d["auroc"]) for d in got] == want
    assert any(d["feature_id"] == 1 and d["label"] == "c" for d in got)


def test_activation_buffer_round_trips_without_pickle(tmp_path):
    rng = np.random.default_rng(2)
    buf = ActivationBuffer(
        codes=rng.random((10, 4)).astype(np.float16),
        labels=rng.random((10, 2)) < 0.5,
        label_names=["CDR3", "FR1"],
        dense=rng.random((10, 3)).astype(np.float16),
        instances={"CDR3": np.arange(10, dtype=np.int32) - 1},
    )
    path = tmp_path / "buf.npz"
    buf.save(path)
    with np.load(path, allow_pickle=False) as z:
        assert sorted(z.files) == ["codes", "dense", "inst_CDR3", "label_names", "labels"]
        assert z["label_names"].dtype.kind == "U"
    back = ActivationBuffer.load(path)
    assert back.label_names == ["CDR3", "FR1"] and back.name_idx == {"CDR3": 0, "FR1": 1}
    np.testing.assert_array_equal(back.codes, buf.codes)
    np.testing.assert_array_equal(back.instances["CDR3"], buf.instances["CDR3"])
    minimal = ActivationBuffer(codes=buf.codes, labels=buf.labels, label_names=["x", "y"])
    minimal.save(tmp_path / "min.npz")
    loaded = ActivationBuffer.load(tmp_path / "min.npz")
    assert loaded.dense is None and loaded.instances is None
    np.savez(
        tmp_path / "evil.npz",
        codes=buf.codes,
        labels=buf.labels,
        label_names=np.array([{"x": 1}], dtype=object),
    )
    with pytest.raises(ValueError):
        ActivationBuffer.load(tmp_path / "evil.npz")


def test_split_and_standardize():
    tr, te = split_indices(10, test_frac=0.4, seed=3)
    assert len(te) == 4 and len(tr) == 6
    assert sorted(torch.cat([tr, te]).tolist()) == list(range(10))
    assert torch.equal(split_indices(10, seed=3)[1], te)
    X = torch.arange(20, dtype=torch.float32).reshape(10, 2)
    mu, sd = standardize(X, tr)
    np.testing.assert_allclose(mu.numpy(), X.numpy()[tr.numpy()].mean(0), rtol=1e-6)
    np.testing.assert_allclose(sd.numpy(), X.numpy()[tr.numpy()].std(0, ddof=1) + 1e-6, rtol=1e-5)


def test_linear_probes_learn_separable_data():
    torch.manual_seed(0)
    centers = torch.tensor([[4.0, 0.0], [0.0, 4.0], [-4.0, -4.0]])
    y = torch.randint(0, 3, (300,))
    X = centers[y] + torch.randn(300, 2) * 0.5
    acc, mauc, n = decode_eval(X[:200], y[:200], X[200:], y[200:], 3)
    assert acc > 0.95 and mauc > 0.99 and n == 3
    w, b = fit_logreg(X[:200], (y[:200] == 0).float())
    pred = (X[200:] @ w + b) > 0
    assert (pred == (y[200:] == 0)).float().mean() > 0.95
    logits = torch.nn.functional.one_hot(y, 4).float()  # class 3 never occurs: not scored
    assert macro_auroc(logits, y, 4) == (pytest.approx(1.0), 3)


def test_domain_f1_hand_worked():
    # 6 positions, one feature; concept positions 1,2 (instance 0) and 4 (instance 1)
    codes = torch.tensor([[0.0], [0.9], [0.2], [0.7], [0.0], [0.0]])
    mask = torch.tensor([False, True, True, False, True, False])
    inst = torch.tensor([-1, 0, 0, -1, 1, -1])
    f1, t = domain_f1(codes, torch.tensor([1.0]), mask, inst, thresholds=(0.15, 0.5, 0.8))
    # t=0.15: fires 1,2,3 -> precision 2/3, instances hit 1/2 -> F1 = 2*(2/3)(1/2)/(7/6) = 4/7
    # t=0.5: fires 1,3 -> precision 1/2, recall 1/2 -> 1/2;  t=0.8: fires 1 -> 1, 1/2 -> 2/3
    assert float(f1[0]) == pytest.approx(2 / 3, abs=1e-6) and float(t[0]) == pytest.approx(0.8)


def test_label_metrics_and_groups_by_counting():
    rng = np.random.default_rng(4)
    n = 400
    y = rng.random(n) < 0.25
    codes = np.zeros((n, 4), dtype=np.float32)
    pos = np.flatnonzero(y)
    codes[pos[: len(pos) // 2], 0] = 1.0 + rng.random(len(pos) // 2)  # precise, half of the label
    codes[pos[len(pos) // 3 :], 1] = 2.0  # precise, overlapping the other two thirds
    codes[rng.random(n) < 0.5, 2] = 1.0  # fires everywhere: imprecise
    Y = np.stack([y, ~y], 1)
    m = label_metrics(torch.tensor(codes), torch.tensor(Y), ["L", "notL"])
    for f in range(4):
        fire = codes[:, f] > 0
        tp = int((fire & y).sum())
        assert m.n_fire[f] == fire.sum()
        assert m.precision[f, 0] == pytest.approx(tp / fire.sum() if fire.sum() else 0.0)
        assert m.recall[f, 0] == pytest.approx(tp / y.sum())
        assert m.auroc[f, 0] == pytest.approx(pair_auroc(codes[:, f], y), abs=1e-6)
    groups = latent_groups(torch.tensor(codes), torch.tensor(Y), ["L", "notL"], min_precision=0.9)
    g = groups["L"]
    assert g["features"] == [0, 1]
    union = (codes[:, 0] > 0) | (codes[:, 1] > 0)
    assert g["recall"] == pytest.approx((union & y).sum() / y.sum())
    assert g["precision"] == pytest.approx(1.0)
    assert g["auroc"] == pytest.approx(pair_auroc(codes[:, :2].max(1), y), abs=1e-6)
    assert groups["notL"]["features"] == [] and groups["notL"]["recall"] == 0.0
    best = m.best_concepts(min_auroc=0.7)
    want = []
    for f in range(4):
        scores = [pair_auroc(codes[:, f], Y[:, j]) for j in range(2)]
        if max(scores) >= 0.7:
            want.append((f, ["L", "notL"][int(np.argmax(scores))]))
    assert [(d["feature_id"], d["label"]) for d in best] == want and (0, "L") in want
    train = np.arange(n) < n // 2
    split = latent_groups(codes, Y, ["L", "notL"], train_mask=train)
    te = ~train
    union_te = union[te] & y[te]
    assert split["L"]["recall"] == pytest.approx(union_te.sum() / y[te].sum())


def _params(fn):
    a = fn.args
    pos = a.posonlyargs + a.args
    defaults = [None] * (len(pos) - len(a.defaults)) + [ast.literal_eval(d) for d in a.defaults]
    out = list(zip([p.arg for p in pos], defaults, strict=True))
    out += [
        (p.arg, ast.literal_eval(d) if d is not None else None)
        for p, d in zip(a.kwonlyargs, a.kw_defaults, strict=True)
    ]
    return [(k, v) for k, v in out if k not in ("self", "cls")]


def _ours(obj):
    return [
        (p.name, None if p.default is inspect.Parameter.empty else p.default)
        for p in inspect.signature(obj).parameters.values()
        if p.name not in ("self", "cls") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


@pytest.mark.parametrize(
    "module,path", [("sae.eval.probing", "eval/probing.py"), ("sae.steering", "steering.py")]
)
def test_upstream_names_and_signatures_match(module, path):
    src = UPSTREAM / path
    if not src.is_file():
        pytest.skip(f"{src} not present (fresh clone without ../shared)")
    import importlib

    ours = importlib.import_module(module)
    tree = ast.parse(src.read_text())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            assert _ours(getattr(ours, node.name)) == _params(node), node.name
        if isinstance(node, ast.ClassDef):
            cls = getattr(ours, node.name)
            fields = [i.target.id for i in node.body if isinstance(i, ast.AnnAssign)]
            assert [f.name for f in dataclasses.fields(cls)] == fields
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and any(
                    getattr(d, "id", None) == "property" for d in item.decorator_list
                ):
                    assert isinstance(inspect.getattr_static(cls, item.name), property), item.name
                elif isinstance(item, ast.FunctionDef):
                    assert _ours(getattr(cls, item.name)) == _params(item), (
                        f"{node.name}.{item.name}"
                    )


def test_eval_package_exports_every_upstream_name():
    src = UPSTREAM / "eval" / "__init__.py"
    if not src.is_file():
        pytest.skip(f"{src} not present (fresh clone without ../shared)")
    import sae.eval

    tree = ast.parse(src.read_text())
    names = next(
        ast.literal_eval(n.value)
        for n in tree.body
        if isinstance(n, ast.Assign) and n.targets[0].id == "__all__"
    )
    missing = [n for n in names if not hasattr(sae.eval, n)]
    assert not missing
    assert probing.auroc_all is sae.eval.auroc_all
