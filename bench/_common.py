"""Shared helpers for the benchmarks: timing and writing bench/results/<name>.json."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"


def interleave(contenders: dict, reps: int = 3) -> dict[str, list[float]]:
    """Wall seconds of each contender, run A, B, C... within every repetition (the start
    rotating per rep), so all of them see the same machine load; -> {name: [seconds per rep]}.
    A contender returning a number reports that as its time (e.g. timed inside a subprocess)."""
    names = list(contenders)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(reps):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            t = time.perf_counter()
            got = contenders[name]()
            dt = time.perf_counter() - t
            times[name].append(float(got) if isinstance(got, (int, float)) else dt)
    return times


def summary(seconds: list[float]) -> dict:
    """Median and spread of per-rep timings."""
    s = sorted(seconds)
    return {
        "median_s": statistics.median(s),
        "min_s": s[0],
        "max_s": s[-1],
        "spread_pct": 100.0 * (s[-1] - s[0]) / statistics.median(s),
        "reps": len(s),
    }


def load_average() -> list[float]:
    """1/5/15-minute load averages (the machine is shared: read figures with them)."""
    return [round(v, 2) for v in os.getloadavg()]


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
            "load_average_at_end": load_average(),
        },
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(out, indent=2))
    print(json.dumps(figures, indent=2))
    print(f"-> {path}")
    return path
