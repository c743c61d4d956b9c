"""Your own labels in analyze.py (badge, per-token labels, FASTA ids, label_metrics.parquet) and
the recipe's latent-group choice, for every token unit (aa: esm2, codon: codonfm, nt: evo2)."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pq = pytest.importorskip("pyarrow.parquet")

from analysis_helpers import REPO, analyze, make_run  # noqa: E402


def write_labels(path, seqs, unit):
    """FASTA-like labels: the first character of token t is 'abc'[t % 3], the others 'z' (so a
    codon takes its first nucleotide's label and 'z' never labels a token). Returns the
    expected label per (sequence, token)."""
    lines, expected = ["#legend a=alpha b=beta c=gamma z=inner"], {}
    names = {"a": "alpha", "b": "beta", "c": "gamma"}
    for i, s in enumerate(seqs):
        n_tok = len(s) // unit
        chars = "".join("abc"[t % 3] + "z" * (unit - 1) for t in range(n_tok))
        lines += [f">s{i}", chars]
        expected[i] = [names["abc"[t % 3]] for t in range(n_tok)]
    path.write_text("\n".join(lines) + "\n")
    return expected


@pytest.mark.parametrize(("recipe", "unit"), [("esm2_sae", 1), ("codonfm_sae", 3), ("evo2_sae", 1)])
def test_labels_reach_atlas_examples_and_metrics(tmp_path, recipe, unit):
    fasta, cache, ckpt, seqs, order, x, sae = make_run(tmp_path, unit)
    expected = write_labels(tmp_path / "labels.fasta", seqs, unit)
    analyze(recipe, tmp_path, fasta, cache, ckpt, "--labels", str(tmp_path / "labels.fasta"))
    out = tmp_path / "analysis"
    atlas = pq.read_table(out / "features_atlas.parquet").to_pylist()
    assert {r["label_source"] for r in atlas} == {"your labels (labels.fasta)"}
    assert {r["best_label"] for r in atlas} <= {"alpha", "beta", "gamma", None}
    assert any(r["best_label"] for r in atlas)
    examples = pq.read_table(out / "feature_examples.parquet").to_pylist()
    assert examples
    for r in examples:
        assert r["sequence_name"] == f"s{r['text_idx']}"  # the FASTA id, not "#index"
        tokens = json.loads(r["tokens_json"])
        want = expected[r["text_idx"]][r["window_start"] : r["window_start"] + len(tokens)]
        assert [t.get("label") for t in tokens] == want
    metrics = pq.read_table(out / "label_metrics.parquet").to_pylist()
    assert {m["label"] for m in metrics} == {"alpha", "beta", "gamma"}  # never "inner"
    with torch.no_grad():
        codes = sae.encode(torch.from_numpy(x)).numpy()
    rows = [lab for i, _ in order for lab in expected[i]]
    # recompute one (feature, label) pair by hand
    m = next(m for m in metrics if m["label"] == "beta" and m["n_fire"] > 0)
    fire = codes[:, m["feature_id"]] > 0
    is_beta = np.array([r == "beta" for r in rows])
    assert m["n_fire"] == int(fire.sum())
    assert m["precision"] == pytest.approx((fire & is_beta).sum() / fire.sum())
    assert m["recall"] == pytest.approx((fire & is_beta).sum() / is_beta.sum())


def test_without_labels_the_badge_names_the_fallback(tmp_path):
    fasta, cache, ckpt, *_ = make_run(tmp_path, 1)
    analyze("esm2_sae", tmp_path, fasta, cache, ckpt)
    atlas = pq.read_table(tmp_path / "analysis" / "features_atlas.parquet").to_pylist()
    assert {r["label_source"] for r in atlas} == {"residue identity (fallback: no --labels)"}


def test_labels_for_unknown_ids_are_a_clear_error(tmp_path):
    fasta, cache, ckpt, *_ = make_run(tmp_path, 1)
    bad = tmp_path / "bad.tsv"
    bad.write_text("nope\t1\tH\n")
    done = analyze("esm2_sae", tmp_path, fasta, cache, ckpt, "--labels", str(bad), check=False)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "bad.tsv:1" in done.stderr and "'nope'" in done.stderr
    assert not (tmp_path / "analysis").exists()


def _recipe_eval():
    spec = importlib.util.spec_from_file_location(
        "esm2_eval", REPO / "recipes" / "esm2_sae" / "eval.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_latent_groups_keep_only_latents_that_hold_joint_precision():
    ev = _recipe_eval()
    rng = np.random.default_rng(0)
    n = 3000
    y = rng.random(n) < 0.3
    codes = np.zeros((n, 4), dtype=np.float32)
    codes[y, 0] = 1.0  # fires exactly on the label
    half = y & (rng.random(n) < 0.5)
    codes[half, 1] = 2.0  # precise but covers half
    codes[rng.random(n) < 0.3, 2] = 1.0  # unrelated: precision ~0.3
    noisy = (y & (rng.random(n) < 0.9)) | (~y & (rng.random(n) < 0.2))
    codes[noisy, 3] = 1.0  # precision ~0.66: never joins
    split = np.repeat(np.arange(3), n // 3).astype(np.int8)
    Y = np.stack([y, ~y], 1)
    groups = ev.label_groups(torch.from_numpy(codes), Y, ["A", "B"], split, min_fires=5)
    a = groups["A"]
    # latent 0 covers every A row; latent 1 (precise, but only rows 0 already covers) adds none
    assert a["features"] == [0] and a["thresholds"] == [0.0]
    assert a["precision"] == 1.0 and a["recall"] == 1.0 and a["auroc"] == 1.0
    b = groups["B"]
    assert b["features"] == [] and b["recall"] == 0.0 and b["auroc"] == 0.5


@pytest.mark.parametrize(("k", "stride"), [(3, 1), (3, 3)])
def test_kmer_recipe_labels_each_row_by_its_first_character(tmp_path, k, stride):
    """token_unit kmer: row j of a sequence is the k-mer starting at character j * stride, so
    it takes that character's label (sae.labels.token_spans through the recipe's k and stride)."""
    import subprocess
    import sys

    from analysis_helpers import make_run
    from recipegen.generator.generate import generate
    from recipegen.generator.write import write

    recipe = tmp_path / "kmer_sae"
    overrides = ["extraction.token_unit=kmer", f"extraction.input_format.kmer.k={k}",
                 f"extraction.input_format.kmer.stride={stride}"]  # fmt: skip
    write(recipe, generate("esm2", overrides=overrides).files, force=True)
    fasta, cache, ckpt, seqs, order, x, sae = make_run(tmp_path, 1)
    # rows per sequence as a k-mer extraction stores them (more rows than make_run's)
    kmer_order = [[i, (len(seqs[i]) - k) // stride + 1] for i, _ in order]
    from sae.activation_store import ActivationStore

    rng = np.random.default_rng(3)
    n_rows = sum(n for _, n in kmer_order)
    cache = tmp_path / "cache_kmer"
    ActivationStore(str(cache)).save(
        rng.standard_normal((n_rows, x.shape[1])).astype(np.float32),
        {"split": "eval", "layer": 5, "sequence_order_file": "sequence_order.json"},
    )
    (cache / "sequence_order.json").write_text(json.dumps(kmer_order))
    # one label character per input character: position c is labelled "abc"[c % 3]
    names = {"a": "alpha", "b": "beta", "c": "gamma"}
    lines = ["#legend a=alpha b=beta c=gamma"]
    for i, s in enumerate(seqs):
        lines += [f">s{i}", "".join("abc"[c % 3] for c in range(len(s)))]
    (tmp_path / "labels.fasta").write_text("\n".join(lines) + "\n")
    cmd = [sys.executable, str(recipe / "analyze.py"), "--sae-checkpoint", str(ckpt),
           "--eval-cache", str(cache), "--input", str(fasta), "--output-dir",
           str(tmp_path / "analysis"), "--dashboard-dir", str(tmp_path / "dashboard"),
           "--layer", "5", "--top-k", "3", "--window", "4", "--n-clusters", "3",
           "--batch-size", "64", "--map", "pca", "--labels", str(tmp_path / "labels.fasta")]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    examples = pq.read_table(tmp_path / "analysis" / "feature_examples.parquet").to_pylist()
    assert examples
    for r in examples:
        tokens = json.loads(r["tokens_json"])
        rows = range(r["window_start"], r["window_start"] + len(tokens))
        assert [t.get("label") for t in tokens] == [names["abc"[(j * stride) % 3]] for j in rows]
    labels = {
        m["label"]
        for m in pq.read_table(tmp_path / "analysis" / "label_metrics.parquet").to_pylist()
    }
    assert labels == ({"alpha"} if stride == 3 else {"alpha", "beta", "gamma"})
