"""Run the train_worker helper in real subprocesses (plain python or torchrun), with timeouts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from sae import ActivationStore, ActivationStoreConfig

WORKER = Path(__file__).with_name("train_worker.py")


def env() -> dict:
    e = dict(os.environ)
    e.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONHASHSEED="0")
    for k in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        e.pop(k, None)
    return e


def torchrun(nproc: int, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc_per_node N train_worker.py ARGS`` (a hang fails, not blocks)."""
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        str(WORKER),
        *args,
    ]
    return subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=timeout)


def python(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(WORKER), *args],
        env=env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def make_store(path: Path, n: int = 1037, h: int = 8, shard_size: int = 150) -> ActivationStore:
    """A store with uneven shards (the last one partial)."""
    g = torch.Generator().manual_seed(0)
    basis = torch.randn(16, h, generator=g)
    codes = torch.relu(torch.randn(n, 16, generator=g)) * (torch.rand(n, 16, generator=g) < 0.3)
    store = ActivationStore(path, ActivationStoreConfig(shard_size=shard_size))
    store.save(codes @ basis)
    return store


def results(out: Path, world: int) -> list[dict]:
    return [json.loads((out / f"rank_{r}.json").read_text()) for r in range(world)]
