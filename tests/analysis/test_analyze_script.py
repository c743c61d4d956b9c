"""The rendered analyze.py (esm2: residues, codonfm: codons) on a real store, and the server."""

from __future__ import annotations

import json
import urllib.request

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pq = pytest.importorskip("pyarrow.parquet")

from analysis_helpers import analyze, free_port, make_run  # noqa: E402
from sae import launch_dashboard  # noqa: E402


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


@pytest.mark.e2e  # three rendered analyze.py runs: out of the quick path, in CI
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
