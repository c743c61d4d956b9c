"""Analysis at scale: the rendered analyze.py on N tokens x 4096 latents, 2 CPU cores.

Builds a synthetic held-out store (random float16 activations, d=320 like ESM2-8M, 100k-row
shards), a random TopK SAE (4096 latents, k=32) and random protein sequences covering the rows,
then runs recipes/esm2_sae/analyze.py in a child process pinned to 2 cores and records its wall
time and peak RSS. Two sizes (N/4 and N tokens) with the same shard size show that the memory is
bounded by the shard size, not by the number of tokens. The machine is shared with other jobs:
the load average is recorded with each run.

A second part (`--part dashboard`) times the dashboard of a 16384-latent SAE in headless
Chromium: page ready, a search, opening a card (its chunk loads lazily); the figures are merged
into the same results file.

usage: python bench/bench_analysis.py [--part scale|dashboard] [--tokens 1000000] [--latents 4096]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _common import write_result
from sae import ActivationStore, ActivationStoreConfig
from sae.architectures import TopKSAE

REPO = Path(__file__).resolve().parents[1]
AA = np.array(list("ACDEFGHIKLMNPQRSTVWY"))


def build(root: Path, n_tokens: int, n_latents: int, dim: int, shard: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    lengths = []
    while sum(lengths) < n_tokens:
        lengths.append(int(min(rng.integers(50, 600), n_tokens - sum(lengths))))
    with (root / "input.fasta").open("w") as f:
        for i, n in enumerate(lengths):
            f.write(f">p{i}\n{''.join(rng.choice(AA, size=n))}\n")
    cache = root / "cache_eval"
    store = ActivationStore(str(cache), ActivationStoreConfig(shard_size=shard))
    for start in range(0, n_tokens, shard):
        rows = min(shard, n_tokens - start)
        store.append(rng.standard_normal((rows, dim), dtype=np.float32).astype(np.float16))
    (cache / "sequence_order.json").write_text(json.dumps([[i, n] for i, n in enumerate(lengths)]))
    store.finalize(
        metadata={"split": "eval", "layer": 5, "sequence_order_file": "sequence_order.json"}
    )
    torch.manual_seed(seed)
    sae = TopKSAE(dim, n_latents, 32)
    torch.save(
        {"model_state_dict": sae.state_dict(), "model_config": sae.config_dict()}, root / "sae.pt"
    )
    return len(lengths)


def run(root: Path, map_method: str) -> dict:
    cmd = [sys.executable, str(REPO / "recipes" / "esm2_sae" / "analyze.py"),
           "--sae-checkpoint", str(root / "sae.pt"), "--eval-cache", str(root / "cache_eval"),
           "--input", str(root / "input.fasta"), "--output-dir", str(root / "analysis"),
           "--dashboard-dir", str(root / "dashboard"), "--device", "cpu", "--map", map_method, "--force"]  # fmt: skip
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "0,1", *cmd]
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="2")
    )
    wall = time.perf_counter() - t
    if proc.returncode:
        raise SystemExit(proc.stderr[-3000:])
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    site = sum(p.stat().st_size for p in (root / "dashboard").rglob("*") if p.is_file())
    return {
        "wall_s": round(wall, 1),
        "peak_rss_mb": round(peak / 1024, 1),
        "peak_rss_is_new_max": peak > before,
        "load_avg_1min_at_start": round(load, 2),
        "dashboard_mb": round(site / 2**20, 1),
        "summary": json.loads((root / "analysis" / "analysis.json").read_text())["summary"],
    }


def dashboard_timing(n_latents: int, root: Path) -> dict:
    """Build a real dashboard for an n_latents SAE (small random store) and time it in Chromium."""
    from sae.analysis import launch_dashboard
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    build(root, 60_000, n_latents, 64, 20_000)
    t = time.perf_counter()
    run(root, "pca")
    analyze_s = time.perf_counter() - t
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={root / 'profile'}", "--window-size=1400,900"):  # fmt: skip
        opts.add_argument(flag)
    service = Service(shutil.which("chromedriver") or "/usr/bin/chromedriver")
    driver = webdriver.Chrome(options=opts, service=service)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = launch_dashboard(root / "dashboard", port=port)
    try:
        t = time.perf_counter()
        driver.get(f"http://127.0.0.1:{port}/")
        WebDriverWait(driver, 120).until(
            lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1"
        )
        ready_s = time.perf_counter() - t
        search_ms = driver.execute_script(
            "const t = performance.now(); const s = document.getElementById('search');"
            "s.value = 'feature 1'; s.dispatchEvent(new Event('input')); return performance.now() - t;"
        )
        fid = n_latents - 7
        driver.execute_script("const s = document.getElementById('search'); s.value = arguments[0];"
                              "s.dispatchEvent(new Event('input'));", str(fid))  # fmt: skip
        t = time.perf_counter()
        driver.find_element(By.CSS_SELECTOR, ".latent-row").click()
        WebDriverWait(driver, 60).until(
            lambda d: d.find_element(By.ID, "card").get_attribute("data-loaded") == "1"
        )
        card_s = time.perf_counter() - t
        files = sum(1 for _ in (root / "dashboard" / "data" / "chunks").iterdir())
    finally:
        driver.quit()
        proc.terminate()
    return {
        "latents": n_latents,
        "analyze_s": round(analyze_s, 1),
        "page_ready_s": round(ready_s, 2),
        "search_ms": round(search_ms, 1),
        "open_card_s": round(card_s, 2),
        "chunk_files": files,
        "atlas_js_mb": round((root / "dashboard" / "data" / "atlas.js").stat().st_size / 2**20, 2),
        "load_avg_1min": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=("scale", "dashboard"), default="scale")
    p.add_argument("--dashboard-latents", type=int, default=16384)
    p.add_argument("--tokens", type=int, default=1_000_000)
    p.add_argument("--latents", type=int, default=4096)
    p.add_argument("--dim", type=int, default=320)
    p.add_argument("--shard-size", type=int, default=100_000)
    p.add_argument("--map", default="pca", choices=("auto", "umap", "pca"))
    p.add_argument("--keep", type=Path, default=None, help="build/keep the data here")
    args = p.parse_args()
    if args.part == "dashboard":
        root = Path(tempfile.mkdtemp(prefix="bench-dashboard-", dir=args.keep))
        try:
            timing = dashboard_timing(args.dashboard_latents, root)
        finally:
            if args.keep is None:
                shutil.rmtree(root, ignore_errors=True)
        path = Path(__file__).resolve().parent / "results" / "analysis.json"
        figures = json.loads(path.read_text())["figures"] if path.is_file() else {}
        figures[f"dashboard_{args.dashboard_latents}_latents"] = timing
        write_result("analysis", figures)
        return
    figures = {"latents": args.latents, "dim": args.dim, "shard_size": args.shard_size, "cores": 2}
    # the smaller run first: ru_maxrss of children is a running maximum over all of them
    for n in (args.tokens // 4, args.tokens):
        root = Path(tempfile.mkdtemp(prefix=f"bench-analysis-{n}-", dir=args.keep))
        try:
            t = time.perf_counter()
            n_seq = build(root, n, args.latents, args.dim, args.shard_size)
            result = run(root, args.map)
            result.update(
                tokens=n,
                sequences=n_seq,
                build_s=round(time.perf_counter() - t - result["wall_s"], 1),
            )
            figures[f"tokens_{n}"] = result
            print(json.dumps(result), flush=True)
        finally:
            if args.keep is None:
                shutil.rmtree(root, ignore_errors=True)
    small, big = figures[f"tokens_{args.tokens // 4}"], figures[f"tokens_{args.tokens}"]
    figures["rss_growth_for_4x_tokens"] = round(big["peak_rss_mb"] / small["peak_rss_mb"], 2)
    figures["time_ratio_for_4x_tokens"] = round(big["wall_s"] / small["wall_s"], 2)
    figures["note"] = (
        "2 CPU cores (taskset), shared with other jobs (load average recorded per run); "
        "random activations and a random SAE; the 2-D map is PCA unless --map umap"
    )
    write_result("analysis", figures)


if __name__ == "__main__":
    main()
