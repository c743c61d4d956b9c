"""Our TopK training step against its peers, each library in its own virtualenv.

Contenders: ours (this venv), the reference bionemo ``sae`` (scripts/reference_venv.sh),
EleutherAI sparsify (``eai-sparsify``) and SAELens (``sae-lens``); every peer venv gets
``torch==2.13.0`` (installed first, so nothing pulls a CUDA build). Each runs its own step
(loss, backward, Adam, post-step) on the same seeded fp32 data via bench/_peer_step.py, at the
five shapes of issue 24, contenders interleaved within every repetition. "ours" runs at the
quality settings (unit-norm latents + decoder gradient projection, see bench/bench_quality.py;
``--ours-defaults`` for the library defaults). Reported per shape and contender: tokens per
process CPU-second and per wall second (median, min-max spread), peak RSS, and ratios ours/peer;
load average at start and end. Every contender runs with the same ``OMP_WAIT_POLICY``
(``--omp-wait-policy``, passive by default: spinning idle threads would bill the machine's load
to whichever library has more serial stretches). With ``--quality`` the quality table (bench/bench_quality.py:
ref, best, sparsify, SAELens at equal tokens) is run too and stored beside the speed figures.
Goals: >= 1.3x the best peer at every shape, >= 1.5x the reference at d=512 n=8192 k=32 b=4096.

    python bench/bench_peers.py [--reps 5] [--shapes big,small,wide,wide_k128,xl] [--steps 2]
                                [--contenders ours,reference,sparsify,saelens] [--no-install]
                                [--omp-wait-policy passive|active|default]
                                [--quality] [--quality-max-tokens 0] [--quality-from F]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).resolve().parent / "_peer_step.py"
TORCH_SPEC = "torch==2.13.0"
SHAPES = {
    "big": {"d": 512, "n": 8192, "k": 32, "batch": 4096},
    "small": {"d": 512, "n": 8192, "k": 32, "batch": 512},
    "wide": {"d": 1280, "n": 20480, "k": 32, "batch": 1024},
    "wide_k128": {"d": 768, "n": 32768, "k": 128, "batch": 1024},
    "xl": {"d": 2560, "n": 16384, "k": 64, "batch": 2048},
}
QUALITY_ROWS = "recipe,ref,sparsify,sparsify_auto_lr,saelens"
PEER_PACKAGES = {"sparsify": ("eai-sparsify", "sparsify"), "saelens": ("sae-lens", "sae_lens")}


def _run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def _peer_python(name: str, root: Path, install: bool) -> str:
    """The venv python for a pip-installed peer, creating the venv when asked."""
    package, module = PEER_PACKAGES[name]
    venv = root / name
    py = venv / "bin" / "python"
    if py.exists() and _run([str(py), "-c", f"import {module}"]).returncode == 0:
        return str(py)
    if not install:
        raise SystemExit(f"bench_peers: no working venv for {name} at {venv} (drop --no-install)")
    print(f"== installing {package} into {venv} (torch first: {TORCH_SPEC})", flush=True)
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    for specs in ([TORCH_SPEC], [package, TORCH_SPEC]):  # torch first, then kept pinned
        proc = _run([str(py), "-m", "pip", "install", "-q", *specs])
        if proc.returncode != 0:
            raise SystemExit(f"bench_peers: pip install {specs} failed:\n{proc.stderr[-2000:]}")
    return str(py)


def _reference_python() -> str:
    proc = _run(["bash", str(REPO / "scripts" / "reference_venv.sh")], cwd=REPO)
    if proc.returncode != 0:
        raise SystemExit(f"bench_peers: reference venv failed:\n{proc.stderr[-2000:]}")
    py = proc.stdout.strip().splitlines()[-1]
    return py if os.path.isabs(py) else str(REPO / py)


def _version(py: str, module: str) -> str:
    code = f"import importlib.metadata as m, torch; print(m.version('{module}'), torch.__version__)"
    proc = _run([py, "-c", code])
    return proc.stdout.strip() if proc.returncode == 0 else "?"


def _one(py: str, lib: str, shape: dict, args) -> dict:
    steps = max(args.steps, -(-args.min_tokens // shape["batch"]))
    cmd = [py, str(WORKER), "--lib", lib, "--steps", str(steps)]
    cmd += ["--threads", str(args.threads), "--seed", str(args.seed)]
    if lib == "ours":
        cmd += ["--quality-settings", "0" if args.ours_defaults else "1"]
    for key in ("d", "n", "k", "batch"):
        cmd += [f"--{key}", str(shape[key])]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    env.pop("OMP_WAIT_POLICY", None)
    if args.omp_wait_policy != "default":  # the same for every contender
        env["OMP_WAIT_POLICY"] = args.omp_wait_policy.upper()
    if lib != "ours":
        env.pop("PYTHONPATH", None)
    load = os.getloadavg()[0]
    proc = _run(cmd, env=env, cwd=Path(py).parent, timeout=1800)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip()[-1500:], "load_1min_at_start": round(load, 2)}
    return {
        **json.loads(proc.stdout.strip().splitlines()[-1]),
        "load_1min_at_start": round(load, 2),
    }


def _summary(runs: list[dict]) -> dict:
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return {"error": runs[-1]["error"] if runs else "no runs"}
    out = {"reps": len(ok)}
    for key in ("tokens_per_cpu_s", "tokens_per_wall_s"):
        vals = [r[key] for r in ok]
        out[key] = {"median": statistics.median(vals), "min": min(vals), "max": max(vals)}
    out["peak_rss_mb"] = max(r["peak_rss_mb"] for r in ok)
    out["load_1min_at_start"] = [r["load_1min_at_start"] for r in ok]
    out["last_loss"] = ok[-1]["last_loss"]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--steps", type=int, default=2, help="timed steps per run (after 1 warm-up)")
    p.add_argument(
        "--min-tokens", type=int, default=4096, help="more steps at small batches, >= this many"
    )
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--omp-wait-policy",
        choices=["passive", "active", "default"],
        default="passive",
        help="OMP_WAIT_POLICY for every contender (default passive: on a shared, loaded machine "
        "idle OpenMP threads otherwise spin, and process CPU time then measures the load as much "
        "as the work; 'default' leaves it unset, as the runs before this option did)",
    )
    p.add_argument("--shapes", default=",".join(SHAPES), help=f"subset of {','.join(SHAPES)}")
    p.add_argument("--ours-defaults", action="store_true", help="ours at the library defaults")
    p.add_argument("--quality", action="store_true", help="also run the quality table")
    p.add_argument("--quality-max-tokens", type=int, default=0, help="token cap (0: 3 epochs)")
    p.add_argument(
        "--quality-from",
        type=Path,
        default=None,
        help="take the quality table from this bench_quality.py result (one run of it, e.g. "
        "bench/results/quality.json) instead of running it again",
    )
    p.add_argument("--contenders", default="ours,reference,sparsify,saelens")
    p.add_argument(
        "--venv-root",
        type=Path,
        default=Path.home() / ".cache" / "recipegen-bench-peers",
        help="where the sparsify / SAELens virtualenvs live",
    )
    p.add_argument("--no-install", action="store_true", help="use existing venvs only")
    p.add_argument(
        "--from-log",
        type=Path,
        default=None,
        help="summarise the per-run lines a run of this script printed (a run stopped before its "
        "last repetition) instead of running anything",
    )
    args = p.parse_args()
    if args.from_log:
        write_result("peers", _from_log(args))
        return
    shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    contenders = [c.strip() for c in args.contenders.split(",") if c.strip()]
    bad = [s for s in shapes if s not in SHAPES] + [
        c for c in contenders if c not in ("ours", "reference", *PEER_PACKAGES)
    ]
    if bad or args.reps < 1 or args.steps < 1:
        print(f"bench_peers: bad --shapes/--contenders/--reps/--steps: {bad}", file=sys.stderr)
        raise SystemExit(2)

    pythons, versions = {}, {}
    for c in contenders:
        if c == "ours":
            pythons[c] = sys.executable
        elif c == "reference":
            pythons[c] = _reference_python()
        else:
            pythons[c] = _peer_python(c, args.venv_root, not args.no_install)
        versions[c] = _version(pythons[c], PEER_PACKAGES.get(c, ("sae",))[0])

    load_start = list(os.getloadavg())
    t0 = time.time()
    runs: dict[str, dict[str, list]] = {s: {c: [] for c in contenders} for s in shapes}
    for rep in range(args.reps):
        for s in shapes:
            order = contenders[rep % len(contenders) :] + contenders[: rep % len(contenders)]
            for c in order:  # interleaved, rotated each repetition
                r = _one(pythons[c], c, SHAPES[s], args)
                runs[s][c].append(r)
                rate = r.get("tokens_per_cpu_s")
                said = f"{rate:10.0f} tok/cpu-s" if rate else r["error"][-300:]
                print(f"rep {rep} {s:5s} {c:9s} {said}", flush=True)

    figures = {
        "load_average_start": load_start,
        "load_average_end": list(os.getloadavg()),
        "seconds": round(time.time() - t0, 1),
        "threads": args.threads,
        "omp_wait_policy": args.omp_wait_policy,
        "reps": args.reps,
        "timed_steps_per_run": {
            s: max(args.steps, -(-args.min_tokens // SHAPES[s]["batch"])) for s in shapes
        },
        "versions": versions,
        "note": "2-core machine shared with other jobs during this run (see load averages); "
        "ratios are within-rep comparable, absolute rates are not",
        "shapes": {},
    }
    for s in shapes:
        per = {c: _summary(runs[s][c]) for c in contenders}
        entry = {"shape": SHAPES[s], "contenders": per}
        if "ours" in per and "tokens_per_cpu_s" in per["ours"]:
            ours = per["ours"]["tokens_per_cpu_s"]["median"]
            ratios = {
                c: ours / v["tokens_per_cpu_s"]["median"]
                for c, v in per.items()
                if c != "ours" and "tokens_per_cpu_s" in v
            }
            entry["ours_over_peer_cpu"] = ratios
            if ratios:
                entry["ours_over_best_peer_cpu"] = min(ratios.values())
                entry["goal_1.3x_best_peer_met"] = min(ratios.values()) >= 1.3
            if s == "big" and "reference" in ratios:
                entry["goal_1.5x_reference_met"] = ratios["reference"] >= 1.5
        figures["shapes"][s] = entry
    figures["ours_settings"] = "library defaults" if args.ours_defaults else "quality settings"
    if args.quality or args.quality_from:
        figures["quality"] = _quality_table(args)
    write_result("peers", figures)


def _from_log(args) -> dict:
    """Speed figures from the `rep R SHAPE CONTENDER RATE tok/cpu-s` lines of a stopped run."""
    runs: dict[str, dict[str, list[float]]] = {}
    for line in args.from_log.read_text().splitlines():
        parts = line.split()
        if len(parts) == 6 and parts[0] == "rep" and parts[5] == "tok/cpu-s":
            runs.setdefault(parts[2], {}).setdefault(parts[3], []).append(float(parts[4]))
    shapes = {}
    for s, per in runs.items():
        entry: dict = {"shape": SHAPES[s], "contenders": {
            c: {"reps": len(v), "tokens_per_cpu_s": {"median": statistics.median(v),
                                                     "min": min(v), "max": max(v)}}
            for c, v in per.items()}}  # fmt: skip
        if "ours" in per:
            ours = statistics.median(per["ours"])
            ratios = {c: ours / statistics.median(v) for c, v in per.items() if c != "ours"}
            entry["ours_over_peer_cpu"] = ratios
            if ratios:
                entry["ours_over_best_peer_cpu"] = min(ratios.values())
                entry["goal_1.3x_best_peer_met"] = min(ratios.values()) >= 1.3
        shapes[s] = entry
    figures = {"source": f"per-run lines of {args.from_log.name} (the run was stopped; only "
               "its completed runs count)", "threads": args.threads, "shapes": shapes,
               "load_average_now": list(os.getloadavg())}  # fmt: skip
    if args.quality_from:
        figures["quality"] = _quality_table(args)
    return figures


def _quality_table(args) -> dict:
    """bench/bench_quality.py at equal tokens (also written to results/quality.json): the recipe
    defaults, the library defaults, sparsify (at the issue's LR and at its own automatic LR) and
    SAELens; or, with --quality-from, the table of an earlier run of it."""
    if args.quality_from:
        return _quality_summary(
            json.loads(args.quality_from.read_text())["figures"], str(args.quality_from)
        )
    out = Path(__file__).resolve().parent / "results" / "quality.json"
    cmd = [sys.executable, str(Path(__file__).resolve().parent / "bench_quality.py"),
           "--only", QUALITY_ROWS, "--out-name", "quality",
           "--max-tokens", str(args.quality_max_tokens), "--threads", str(args.threads),
           "--venv-root", str(args.venv_root)]  # fmt: skip
    proc = _run(cmd, timeout=4 * 3600)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip()[-1500:]}
    return _quality_summary(json.loads(out.read_text())["figures"], "run by this command")


def _quality_summary(figures: dict, source: str) -> dict:
    table = {
        name: {k: row.get(k) for k in ("fvu_median", "dead_pct_test_median", "train_cpu_s_median",
                                       "tokens", "error")}
        for name, row in figures["table"].items()
    }  # fmt: skip
    return {"source": source, "setup": figures.get("setup"), "table": table,
            "parity": figures.get("parity"), "seconds": figures.get("seconds"),
            "load_average_start": figures.get("load_average_start"),
            "load_average_end": figures.get("load_average_end")}  # fmt: skip


if __name__ == "__main__":
    main()
