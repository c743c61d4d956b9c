"""Fast checks of the rendered extractors' building blocks (real stores, no model)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from e2e_helpers import REPO

pytest.importorskip("pyarrow")
sys.path.insert(0, str(REPO / "sae" / "src"))


def load_rendered(model: str, tmp_path: Path, name: str = "extract.py"):
    from recipegen.generator.generate import generate

    path = tmp_path / f"{model}_{name}"
    path.write_text(generate(model).files[name])
    spec = importlib.util.spec_from_file_location(f"rendered_{model}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def hf(tmp_path):
    return load_rendered("esm2", tmp_path)


def test_split_is_deterministic_disjoint_and_complete(hf):
    train = hf.select_indices(1000, "train", 0.1, seed=3)
    evals = hf.select_indices(1000, "eval", 0.1, seed=3)
    assert not set(train) & set(evals)
    assert sorted(train + evals) == list(range(1000))
    assert 50 < len(evals) < 150
    assert evals == hf.select_indices(1000, "eval", 0.1, seed=3)
    assert evals != hf.select_indices(1000, "eval", 0.1, seed=4)
    # adding sequences never moves an existing one across the split
    assert set(evals) <= set(hf.select_indices(2000, "eval", 0.1, seed=3))


def test_length_batches_respect_the_token_cap_and_cover_everything(hf):
    lengths = [5, 300, 17, 120, 120, 64, 999, 3, 40, 41]
    batches = hf.length_batches(lengths, batch_size=4, max_tokens=400)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        assert len(b) <= 4
        assert len(b) == 1 or max(lengths[i] for i in b) * len(b) <= 400
        assert [lengths[i] for i in b] == sorted(lengths[i] for i in b)


def test_reads_fasta_csv_and_parquet_and_refuses_gzip(hf, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "a.fasta").write_text(">x\nMKT\nAYI\n>y\n\nGG\n")
    (tmp_path / "a.csv").write_text("id,sequence\n1,MKTAYI\n2,GG\n")
    pq.write_table(pa.table({"sequence": ["MKTAYI", "GG"]}), tmp_path / "a.parquet")
    for name in ("a.fasta", "a.csv", "a.parquet"):
        assert hf.read_sequences(tmp_path / name) == ["MKTAYI", "GG"]
    (tmp_path / "b.csv").write_text("id,seq\n1,MK\n")
    with pytest.raises(SystemExit, match="no `sequence` column"):
        hf.read_sequences(tmp_path / "b.csv")
    (tmp_path / "a.fasta.gz").write_bytes(b"\x1f\x8b")
    with pytest.raises(SystemExit, match="compressed input"):
        hf.read_sequences(tmp_path / "a.fasta.gz")
    (tmp_path / "a.txt").write_text("MKT\n")
    with pytest.raises(SystemExit, match="unknown format"):
        hf.read_sequences(tmp_path / "a.txt")


def _rank_store(root: Path, rank: int, rows: int, run_id: str) -> Path:
    import numpy as np
    import sae.activation_store as store_mod

    path = root / f".rank_{rank}"
    store = store_mod.ActivationStore(str(path), store_mod.ActivationStoreConfig(shard_size=4))
    store.append(np.full((rows, 3), rank, dtype=np.float16))
    store.finalize(metadata={"run_id": run_id, "sequence_order": []})
    return path


def test_rank_wait_times_out_naming_the_missing_ranks(hf, tmp_path):
    _rank_store(tmp_path, 0, 5, "run-a")
    _rank_store(tmp_path, 2, 5, "stale-run")  # a previous run's finished store does not count
    with pytest.raises(SystemExit, match=r"ranks \[1, 2\]"):
        hf.wait_for_ranks(tmp_path, 3, "run-a", timeout_s=0.3)


@pytest.mark.parametrize("use_runtime_merge", [True, False])
def test_merge_of_rank_stores_with_and_without_merge_stores(
    hf, tmp_path, monkeypatch, use_runtime_merge
):
    import sae.activation_store as store_mod

    if not use_runtime_merge:  # the portable fallback (e.g. bionemo's sae has no merge_stores)
        monkeypatch.delattr(store_mod, "merge_stores", raising=False)
    sources = [_rank_store(tmp_path, r, 5 + r, "run") for r in range(2)]
    hf.merge_rank_stores(sources, tmp_path, {"model_name": "esm2", "layer": 5}, shard_size=4)
    meta = json.loads((tmp_path / "metadata.json").read_text())
    assert meta["n_samples"] == 11 and meta["hidden_dim"] == 3 and meta["model_name"] == "esm2"
    rows = store_mod.ActivationStore(str(tmp_path)).load_all()
    assert rows[:5].eq(0).all() and rows[5:].eq(1).all()  # rank order preserved
    assert not list(tmp_path.glob(".rank_*"))


def test_predict_cli_chunking_and_writer_hook(tmp_path):
    mod = load_rendered("evo2", tmp_path)
    assert mod.chunk("ACGT", 4) == [("ACGT", "ACGT", 0, None)]  # fits: one window, whole
    windows = mod.chunk("ACGTACGTAC", 4)  # overlapping windows of 4, stored parts tile it
    assert all(len(text) == 4 for text, _, _, _ in windows)
    assert "".join(stored for _, stored, _, _ in windows) == "ACGTACGTAC"
    assert all(text[lo:hi] == stored for text, stored, lo, hi in windows)

    class NoHook:
        __name__ = "plain_module"

    with pytest.raises(SystemExit, match="PredictionWriter"):
        mod.install_writer(NoHook(), None, None)


def test_early_exit_capture_equals_output_hidden_states(hf, tiny_esm2):
    import torch
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(tiny_esm2).eval()
    enc = AutoTokenizer.from_pretrained(tiny_esm2)(
        ["MKTAYIAKQRQISFVKSHFSRQ", "MKT"], padding=True, return_tensors="pt"
    )
    n = model.config.num_hidden_layers
    with torch.inference_mode():
        ref = model(**enc, output_hidden_states=True).hidden_states
        for layer in range(1, n + 1):
            site, can_stop = hf.layer_site(model, layer)
            assert site is not None and can_stop == (layer < n)  # the last: the full forward
            got = hf.layer_output(model, layer, enc["input_ids"], enc["attention_mask"])
            assert torch.equal(got, ref[layer]), layer


@pytest.mark.parametrize("size", [1, 2, 3, 4, 7, 16, 64])
def test_windows_tile_every_position_once_from_the_most_central_window(hf, size):
    for n in range(0, 5 * size + 7):
        spans = hf.windows(n, size)
        kept = [p for _, _, lo, hi in spans for p in range(lo, hi)]
        assert kept == list(range(n))  # every position once, in order
        assert all(e - s <= size and s <= lo <= hi <= e for s, e, lo, hi in spans)
        if n <= size:
            assert spans == [(0, n, 0, n)]
            continue
        assert all(e - s == size for s, e, _, _ in spans)  # full windows, none cut
        for p in range(n):  # kept from a window whose centre is nearest (ties either way)
            (owner,) = [w for w in spans if w[2] <= p < w[3]]
            nearest = min(abs(2 * p + 1 - s - e) for s, e, _, _ in spans if s <= p < e)
            assert abs(2 * p + 1 - owner[0] - owner[1]) == nearest


def test_keep_mask_keeps_each_windows_range_of_valid_positions(hf):
    import torch

    valid = torch.tensor([[0, 1, 1, 1, 1, 0], [0, 1, 1, 1, 0, 0]], dtype=torch.bool)
    mask = hf.keep_mask(valid, [(1, 3), (0, None)])
    assert mask.tolist() == [[False, False, True, True, False, False], valid[1].tolist()]
    spans = hf.window_spans(10, 4)
    assert [(lo, hi) for _, _, lo, hi in spans][0][0] == 0 and hf.window_spans(3, 4) == [
        (0, 3, 0, None)
    ]


def test_kmer_units_and_expected_tokens(tmp_path):
    from recipegen.generator.generate import generate

    rendered = generate(
        "esm2",
        overrides=[
            "extraction.token_unit=kmer",
            "extraction.input_format.kmer.k=3",
            "extraction.input_format.kmer.stride=1",
            "extraction.input_format.case=upper",
        ],
    )
    path = tmp_path / "kmer_extract.py"
    path.write_text(rendered.files["extract.py"])
    spec = importlib.util.spec_from_file_location("rendered_kmer", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.format_units("acgta") == ["ACG", "CGT", "GTA"]  # row j starts at letter j
    assert mod.format_sequence("acgta") == "ACG CGT GTA"
    assert mod.expected_tokens("ACGTA", 100) == 3 and mod.expected_tokens("AC", 100) == 0
    assert mod.UNIT_WORD == "3-mer" and mod.position_map()["row_start"] == "j * stride"
    stride3 = {**mod.INPUT_FORMAT, "kmer": {"k": 3, "stride": 3}}
    assert mod.format_units("ACGTACGT", stride3) == ["ACG", "TAC"]  # non-overlapping
