"""Fault: extraction killed with SIGKILL mid-way (issue 7 part 1, via a rendered recipe)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from e2e_helpers import check_artifacts, render, run_env, run_launch

pytestmark = pytest.mark.e2e


def test_killed_extraction_leaves_no_metadata_and_rerun_completes(
    tmp_path, tiny_esm2, protein_fasta
):
    recipe = render("esm2", tmp_path)
    work = tmp_path / "work"
    cache = work / "cache_train"
    env = run_env(
        INPUT=str(protein_fasta),
        CHECKPOINT=str(tiny_esm2),
        WORK=str(work),
        MAX_SEQUENCES="60",
        EXTRACT_BATCH_SIZE="1",  # many small batches: the kill lands mid-extraction
        SHARD_SIZE="64",  # shards are flushed early, so there is partial state to find
        BATCH_SIZE="1024",
        N_EPOCHS="1",
    )
    proc = subprocess.Popen(
        ["bash", str(recipe / "launch.sh"), "--smoke"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        while not list(cache.glob("shard_*.parquet")):
            assert proc.poll() is None, "launch.sh ended before extraction wrote a shard"
            assert time.monotonic() < deadline, "no shard appeared (extraction never started?)"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert list(cache.glob("shard_*.parquet")), "killed before any partial state existed"
    assert not (cache / "metadata.json").exists()

    # Training refuses the half-written store, naming the missing sentinel.
    train = subprocess.run(
        [sys.executable, str(recipe / "train.py"), "--cache-dir", str(cache),
         "--output-dir", str(tmp_path / "refused"), "--expansion-factor", "4", "--top-k", "8",
         "--auxk", "16"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert train.returncode != 0
    assert "metadata.json" in train.stderr and str(cache) in train.stderr
    assert not (tmp_path / "refused" / "checkpoint_final.pt").exists()

    # The same launch.sh, rerun, cleans the partial store and completes.
    run_launch(recipe, env, "--smoke")
    check_artifacts(work, expansion=4)
    meta_rows = (cache / "sequence_order.json").read_text()
    assert meta_rows.startswith("[[")
