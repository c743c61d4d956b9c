"""All three recipes' `launch.sh --smoke`, end to end on CPU (issue 5), plus 2-process runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from e2e_helpers import check_artifacts, render, run_env, run_launch, write_standin

pytestmark = pytest.mark.e2e
HARNESS = Path(__file__).with_name("save_rank_weights.py")

# Small, quick smoke settings shared by the tests (on top of the spec's `smoke` section).
QUICK = {"MAX_SEQUENCES": "40", "EVAL_FRACTION": "0.25", "BATCH_SIZE": "256", "N_EPOCHS": "1"}


def test_codonfm_smoke_custom_adapter(tmp_path, cds_fasta):
    recipe = render("codonfm", tmp_path)
    work = tmp_path / "work"
    env = run_env(
        **QUICK,
        INPUT=str(cds_fasta),
        # the spec's own adapter (rendered into the recipe) on a tiny random checkpoint
        CHECKPOINT=str(write_standin("codonfm", tmp_path / "encodon")),
        WORK=str(work),
    )
    run_launch(recipe, env, "--smoke")
    report = check_artifacts(work, expansion=4)
    meta = json.loads((work / "cache_train" / "metadata.json").read_text())
    assert meta["hidden_dim"] == 32 and meta["extractor"] == "custom"
    assert report["loss_recovered"].get("value") is not None  # adapter has layer_module/token_loss
    assert report["probing"]["labels"] == "codon identity"
    assert all(len(r["label"]) == 3 for r in report["probing"]["per_label"])


def test_evo2_smoke_predict_cli_two_process_extraction(tmp_path, dna_fasta):
    recipe = render("evo2", tmp_path)
    work = tmp_path / "work"
    env = run_env(
        **QUICK,
        INPUT=str(dna_fasta),
        CHECKPOINT=str(tmp_path),  # the stand-in builds its model in memory
        PREDICT_MODULE="evo2_predict",
        PREDICT_ARGS="--hidden-dim 48",
        LAYER="2",
        CHUNK_SIZE="256",
        EXTRACT_NPROC="2",
        WORK=str(work),
    )
    run_launch(recipe, env, "--smoke")
    report = check_artifacts(work, expansion=4)
    meta = json.loads((work / "cache_train" / "metadata.json").read_text())
    assert meta["extractor"] == "predict_cli" and meta["world_size"] == 2
    assert meta["hidden_dim"] == 48
    # Streaming: the stand-in's default writer would have left .pt files; none may exist.
    assert not list(work.rglob("*.pt")) or all(p.parent.name == "sae" for p in work.rglob("*.pt"))
    assert not list(work.rglob(".rank_*"))
    # every token of every chunk is in the store: 1 nt per token, no padding
    chunks = (work / "cache_train" / "sequences.fasta").read_text().split("\n")[1::2]
    assert meta["n_samples"] == sum(len(c) for c in chunks)
    assert "skipped" in report["loss_recovered"]
    assert {r["label"] for r in report["probing"]["per_label"]} <= set("ACGT")


def test_evo2_refuses_gzipped_input(tmp_path, dna_fasta):
    import gzip

    recipe = render("evo2", tmp_path)
    gz = tmp_path / "dna.fasta.gz"
    gz.write_bytes(gzip.compress(dna_fasta.read_bytes()))
    env = run_env(INPUT=str(gz), PREDICT_MODULE="evo2_predict", WORK=str(tmp_path / "w"))
    proc = subprocess.run(
        ["bash", str(recipe / "launch.sh"), "--smoke"], env=env, capture_output=True, text=True
    )
    assert proc.returncode != 0
    assert "plain FASTA only" in proc.stderr and "dna.fasta.gz" in proc.stderr
    assert not (tmp_path / "w" / "cache_train" / "metadata.json").exists()


def test_esm2_smoke_two_processes_identical_across_ranks(tmp_path, tiny_esm2, protein_fasta):
    recipe = render("esm2", tmp_path)
    work = tmp_path / "work"
    env = run_env(
        **QUICK,
        INPUT=str(protein_fasta),
        CHECKPOINT=str(tiny_esm2),
        NPROC="2",
        EXTRACT_NPROC="2",
        WORK=str(work),
    )
    proc = run_launch(recipe, env, "--smoke")
    report = check_artifacts(work, expansion=4)
    meta = json.loads((work / "cache_train" / "metadata.json").read_text())
    assert meta["world_size"] == 2 and meta["extractor"] == "hf"
    train_args = json.loads((work / "sae" / "train_args.json").read_text())
    assert train_args["dp_size"] == 2
    assert report["loss_recovered"].get("value") is not None
    assert "--dp-size" in (recipe / "launch.sh").read_text() and proc.returncode == 0

    # Same training again through a harness that saves every rank's final weights.
    ranks = tmp_path / "ranks"
    ranks.mkdir()
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        str(HARNESS), str(ranks), str(recipe / "train.py"),
        "--dp-size", "2", "--cache-dir", str(work / "cache_train"),
        "--output-dir", str(tmp_path / "sae2"), "--expansion-factor", "4", "--top-k", "8",
        "--auxk", "16", "--batch-size", "256", "--n-epochs", "1", "--warmup-steps", "2",
        "--device", "cpu",
    ]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    import torch

    r0 = torch.load(ranks / "rank_0.pt", weights_only=True)
    r1 = torch.load(ranks / "rank_1.pt", weights_only=True)
    params = [
        k for k in r0 if k != "stats_last_nonzero"
    ]  # per-rank dead counters (no --dead-count-global)
    assert params and all(torch.equal(r0[k], r1[k]) for k in params)
    final = torch.load(tmp_path / "sae2" / "checkpoint_final.pt", weights_only=True)
    assert all(torch.equal(final["model_state_dict"][k], r0[k]) for k in params)
