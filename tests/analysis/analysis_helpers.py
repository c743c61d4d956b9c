"""Shared by the analysis and browser tests: a real eval store + checkpoint, and analyze.py."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from sae import ActivationStore, ActivationStoreConfig
from sae.architectures import TopKSAE

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
