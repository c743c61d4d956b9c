"""Fault tests (issue 7 part 1, runtime side): real subprocesses killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from sae import ActivationStore, StoreError, TopKSAE, Trainer, TrainingConfig
from sae_procs import WORKER, env, make_store, python, results

pytestmark = pytest.mark.skipif(os.name != "posix", reason="needs POSIX signals")


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"process ended before {path.name} appeared: {proc.stderr.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"{path} never appeared")
        time.sleep(0.02)


@pytest.mark.e2e  # two training runs and a kill -9: out of the quick path, in CI
def test_kill9_after_checkpoint_then_resume_matches_uninterrupted(tmp_path):
    store = make_store(tmp_path / "store")
    full, killed = tmp_path / "full", tmp_path / "killed"
    full.mkdir(), killed.mkdir()
    args = ["--epochs", "2", "--accum", "2", "--checkpoint-steps", "5"]
    base = [sys.executable, str(WORKER), "train", str(store.path)]
    # the uninterrupted reference runs alongside the run we kill
    ref = subprocess.Popen(
        [*base, str(full), *args],
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # 0.1 s per step: the run needs > 3 s for its 32 steps, we kill it right after step 10
    proc = subprocess.Popen(
        [*base, str(killed), *args, "--sleep", "0.1"],
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for(killed / "checkpoint_step_10.pt", proc)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    assert not (killed / "checkpoint_final.pt").exists()
    steps = sorted(int(p.stem.rsplit("_", 1)[1]) for p in killed.glob("checkpoint_step_*.pt"))
    latest = killed / f"checkpoint_step_{steps[-1]}.pt"
    assert steps[-1] < 32
    torch.load(latest, weights_only=True)  # atomically written: never half a file

    _, ref_err = ref.communicate(timeout=180)
    assert ref.returncode == 0, ref_err[-3000:]
    resumed = python("train", str(store.path), str(killed), *args, "--resume", str(latest))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    (a,), (b,) = results(full, 1), results(killed, 1)
    assert a["global_step"] == b["global_step"] == 32
    assert a["digest"] == b["digest"]
    wa = torch.load(full / "checkpoint_final.pt", weights_only=True)["model_state_dict"]
    wb = torch.load(killed / "checkpoint_final.pt", weights_only=True)["model_state_dict"]
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k


_EXTRACT = """
import sys, time, torch
from sae import ActivationStore, ActivationStoreConfig
store = ActivationStore(sys.argv[1], ActivationStoreConfig(shard_size=64))
while True:
    store.append(torch.randn(32, 8).half())
    time.sleep(0.01)
"""


def test_extraction_killed_midway_is_refused_then_rerun_completes(tmp_path):
    path = tmp_path / "cache"
    proc = subprocess.Popen(
        [sys.executable, "-c", _EXTRACT, str(path)],
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for(path / "shard_00002.parquet", proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert not (path / "metadata.json").exists()
    model = TopKSAE(8, 32, top_k=4)
    cfg = TrainingConfig(batch_size=16, n_epochs=1, device="cpu", show_progress=False)
    with pytest.raises(StoreError, match=r"no metadata\.json.*crashed.*re-run extraction"):
        Trainer(model, cfg).fit(ActivationStore(path))
    # re-running the extraction in place clears the stale shards and completes
    store = ActivationStore(path)
    store.save(torch.randn(100, 8))
    assert ActivationStore(path).n_samples == 100
    assert _fit_steps(Trainer(model, cfg), ActivationStore(path)) == 6


def _fit_steps(trainer, data) -> int:
    trainer.fit(data)
    return trainer.summary["global_step"]


@pytest.mark.parametrize("damage", ["truncate", "garbage", "delete"])
def test_damaged_shard_named_in_training_error(tmp_path, damage):
    store = make_store(tmp_path / "store", n=600, shard_size=150)
    shard = store.path / "shard_00002.parquet"
    if damage == "truncate":
        shard.write_bytes(shard.read_bytes()[:100])
    elif damage == "garbage":
        shard.write_bytes(os.urandom(shard.stat().st_size))
    else:
        shard.unlink()
    cfg = TrainingConfig(
        batch_size=50, n_epochs=1, device="cpu", show_progress=False, shuffle=False
    )
    with pytest.raises(StoreError, match="shard_00002.parquet"):
        Trainer(TopKSAE(8, 32, top_k=4), cfg).fit(ActivationStore(store.path))
