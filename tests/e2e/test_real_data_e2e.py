"""Integration on real sequences from ../shared/data (tiny random models); skips when absent.

Marked slow (minutes on 2 CPUs): run with `pytest -m slow tests/e2e`."""

from __future__ import annotations

import json

import pytest
from e2e_helpers import check_artifacts, render, run_env, run_launch, write_standin

pytestmark = pytest.mark.e2e


def test_esm2_recipe_on_200_uniref90_sequences(tmp_path, shared_data, tiny_esm2):
    recipe = render("esm2", tmp_path)
    work = tmp_path / "work"
    env = run_env(
        INPUT=str(shared_data / "uniref90_10k.parquet"),
        CHECKPOINT=str(tiny_esm2),
        WORK=str(work),
        MAX_SEQUENCES="200",
        BATCH_SIZE="1024",
        N_EPOCHS="1",
    )
    run_launch(recipe, env, "--smoke")
    check_artifacts(work, expansion=4)
    train = json.loads((work / "cache_train" / "metadata.json").read_text())
    evals = json.loads((work / "cache_eval" / "metadata.json").read_text())
    assert train["n_sequences"] + evals["n_sequences"] == 200
    assert train["input"].endswith("uniref90_10k.parquet")


def test_codonfm_recipe_on_100_coding_sequences(tmp_path, shared_data):
    recipe = render("codonfm", tmp_path)
    work = tmp_path / "work"
    env = run_env(
        INPUT=str(shared_data / "codon_cds_500.parquet"),
        CHECKPOINT=str(write_standin("codonfm", tmp_path / "encodon")),
        WORK=str(work),
        MAX_SEQUENCES="100",
        BATCH_SIZE="256",
        N_EPOCHS="1",
    )
    run_launch(recipe, env, "--smoke")
    report = check_artifacts(work, expansion=4)
    train = json.loads((work / "cache_train" / "metadata.json").read_text())
    evals = json.loads((work / "cache_eval" / "metadata.json").read_text())
    assert train["n_sequences"] + evals["n_sequences"] == 100
    # 1 token per codon: the stored tokens are the codons of the sequences (no specials)
    assert report["probing"]["labels"] == "codon identity"
