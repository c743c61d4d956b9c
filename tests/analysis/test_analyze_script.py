"""The rendered analyze.py (esm2: residues, codonfm: codons) on a real store, and the server."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pq = pytest.importorskip("pyarrow.parquet")

from sae import ActivationStore, ActivationStoreConfig, launch_dashboard  # noqa: E402
from sae.architectures import TopKSAE  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_run(tmp: Path, unit: int, n_seq: int = 12, hidden: int = 16, seed: int = 0):
    """Input FASTA, an eval store with its sequence order (as extract.py writes), a checkpoint."""
    rng = np.random.default_rng(seed)
    alphabet = "ACGT" if unit == 3 else "ACDEFGHIKLMNPQRSTVWY"
    seqs = [
        "".join(rng.choice(list(alphabet), size=unit * int(rng.integers(8, 30))))
        for _ in range(n_seq)
    ]
    fasta = tmp / "in.fasta"
    fasta.write_text("".join(f">s{i}\n{s}\n" for i, s in enumerate(seqs)))
    eval_idx = list(range(1, n_seq, 2))  # the held-out sequences, in store row order
    order = [[i, len(seqs[i]) // unit] for i in eval_idx]
    n_tok = sum(n for _, n in order)
    x = rng.standard_normal((n_tok, hidden)).astype(np.float32)
    cache = tmp / "cache_eval"
    store = ActivationStore(str(cache), ActivationStoreConfig(shard_size=50))
    store.append(x)
    (cache / "sequence_order.json").write_text(json.dumps(order))
    store.finalize(
        metadata={"split": "eval", "layer": 5, "sequence_order_file": "sequence_order.json"}
    )
    torch.manual_seed(seed)
    sae = TopKSAE(hidden, 64, 4)
    ckpt = tmp / "checkpoint_final.pt"
    torch.save({"model_state_dict": sae.state_dict(), "model_config": sae.config_dict()}, ckpt)
    return fasta, cache, ckpt, seqs, order, x, sae


def analyze(recipe: str, tmp: Path, fasta, cache, ckpt, *extra, check=True):
    cmd = [sys.executable, str(REPO / "recipes" / recipe / "analyze.py"), "--sae-checkpoint", str(ckpt),
           "--eval-cache", str(cache), "--input", str(fasta), "--output-dir", str(tmp / "analysis"),
           "--dashboard-dir", str(tmp / "dashboard"), "--layer", "5", "--top-k", "3", "--window", "4",
           "--n-clusters", "3", "--batch-size", "64", "--map", "pca", *extra]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=check)


@pytest.mark.parametrize(("recipe", "unit"), [("esm2_sae", 1), ("codonfm_sae", 3)])
def test_analyze_maps_examples_back_to_the_input(tmp_path, recipe, unit):
    fasta, cache, ckpt, seqs, order, x, sae = make_run(tmp_path, unit)
    analyze(recipe, tmp_path, fasta, cache, ckpt)
    out = tmp_path / "analysis"
    summary = json.loads((out / "analysis.json").read_text())["summary"]
    assert summary["n_tokens"] == len(x) and summary["n_latents"] == 64
    atlas = pq.read_table(out / "features_atlas.parquet").to_pylist()
    with torch.no_grad():
        codes = sae.encode(torch.from_numpy(x)).numpy()
    assert [r["total_activations"] for r in atlas] == (codes > 0).sum(0).tolist()
    examples = pq.read_table(out / "feature_examples.parquet").to_pylist()
    assert examples and all(r["chars_per_token"] == unit for r in examples)
    offsets = np.concatenate([[0], np.cumsum([n for _, n in order])])
    seg_of = {seq: k for k, (seq, _) in enumerate(order)}
    for r in examples:
        seq = seqs[r["text_idx"]]
        tokens = json.loads(r["tokens_json"])
        start = r["window_start"]
        assert r["input_offset"] == start * unit
        # the window's tokens are the input's residues/codons at those positions
        for j, t in enumerate(tokens):
            assert t["token"] == seq[(start + j) * unit : (start + j + 1) * unit]
        row = offsets[seg_of[r["text_idx"]]] + r["position"]
        assert tokens[r["position"] - start]["activation"] == pytest.approx(
            codes[row, r["feature_id"]], abs=1e-4
        )
        assert r["max_activation"] == pytest.approx(codes[row, r["feature_id"]], rel=1e-5)
    meta = pq.read_table(out / "feature_metadata.parquet")
    fired = [h for h in meta.column("histogram_json").to_pylist() if h]
    assert sum(sum(json.loads(h)["counts"]) for h in fired) == int((codes > 0).sum())
    assert (tmp_path / "dashboard" / "index.html").is_file()
    assert (
        (tmp_path / "dashboard" / "data" / "atlas.js")
        .read_text()
        .startswith("SAE_DASHBOARD.loadAtlas(")
    )


def test_sentinel_skips_a_current_analysis_and_force_reruns(tmp_path):
    fasta, cache, ckpt, *_ = make_run(tmp_path, 1)
    analyze("esm2_sae", tmp_path, fasta, cache, ckpt)
    again = analyze("esm2_sae", tmp_path, fasta, cache, ckpt)
    assert "is current; skipping" in again.stdout
    forced = analyze("esm2_sae", tmp_path, fasta, cache, ckpt, "--force")
    assert "skipping" not in forced.stdout and "latents" in forced.stderr
    changed = analyze("esm2_sae", tmp_path, fasta, cache, ckpt, "--window", "2")  # settings differ
    assert "skipping" not in changed.stdout


def test_bad_input_is_a_clear_error(tmp_path):
    fasta, cache, ckpt, *_ = make_run(tmp_path, 1)
    r = analyze("esm2_sae", tmp_path, fasta, cache, ckpt, "--top-k", "0", check=False)
    assert (
        r.returncode == 2
        and "--top-k must be in 1..100" in r.stderr
        and "Traceback" not in r.stderr
    )
    short = tmp_path / "short.fasta"
    short.write_text(">a\nACDE\n")
    r = analyze("esm2_sae", tmp_path, short, cache, ckpt, check=False)
    assert (
        r.returncode != 0
        and "does not match the eval cache" in r.stderr
        and "Traceback" not in r.stderr
    )
    (tmp_path / "analysis").mkdir()
    (tmp_path / "analysis" / "notes.txt").write_text("mine")
    r = analyze("esm2_sae", tmp_path, fasta, cache, ckpt, check=False)
    assert r.returncode != 0 and "holds other files" in r.stderr
    assert (tmp_path / "analysis" / "notes.txt").read_text() == "mine"


def test_launch_dashboard_serves_the_site_and_builds_from_parquet(tmp_path):
    fasta, cache, ckpt, *_ = make_run(tmp_path, 1)
    analyze("esm2_sae", tmp_path, fasta, cache, ckpt)
    port = free_port()
    proc = launch_dashboard(tmp_path / "dashboard", port=port)
    try:
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10).read().decode()
        assert "SAE_DASHBOARD" in page
        data = urllib.request.urlopen(f"http://127.0.0.1:{port}/data/atlas.js", timeout=10).read()
        assert data.startswith(b"SAE_DASHBOARD.loadAtlas(")
    finally:
        proc.terminate()
        proc.wait(10)
    # from an atlas parquet file: the dashboard is built beside it, then served
    port = free_port()
    proc = launch_dashboard(tmp_path / "analysis" / "features_atlas.parquet", port=port)
    try:
        assert (tmp_path / "analysis" / "dashboard" / "data" / "atlas.js").is_file()
        assert urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10).status == 200
    finally:
        proc.terminate()
        proc.wait(10)
    with pytest.raises(FileNotFoundError, match="no such file"):
        launch_dashboard(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="no index.html"):
        launch_dashboard(tmp_path / "analysis")
