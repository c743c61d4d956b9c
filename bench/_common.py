"""Shared helpers for the benchmarks: timing and writing bench/results/<name>.json."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"


def best_of(fn, repeats: int = 3) -> float:
    """Best wall time of ``repeats`` calls (seconds); the minimum is the least noisy estimate."""
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def write_result(name: str, figures: dict) -> Path:
    """Write ``figures`` plus machine info to bench/results/<name>.json and print them."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {
        "name": name,
        "figures": figures,
        "machine": {
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cuda": torch.cuda.is_available(),
        },
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(out, indent=2))
    print(json.dumps(figures, indent=2))
    print(f"-> {path}")
    return path
