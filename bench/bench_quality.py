"""Quality at equal tokens: an ablation of our TopK training settings beside sparsify and SAELens.

Data: bench/synthetic.py (seeded; 300k train / 30k held-out vectors, d=256, 2048 true
directions, ~16 active). Every run: n=2048 latents, k=16, batch 1024, lr 3e-4, the same
shuffled order, 3 epochs (~811k tokens) unless ``--max-tokens`` caps it (the same cap for every
contender). Reported per run: held-out FVU, dead % on the held-out set (latents that fire on
none of its 30k vectors), the training counter's dead % and whether it could move at all,
process CPU seconds; load averages before and after. Each run is its own process with
``--threads`` threads; runs are interleaved (rotated) across ``--reps``.

Contenders: ``ref`` (our library's defaults = the reference's), one-factor changes to it
(``+<factor>``), ``best`` (all winning opt-in settings), leave-one-out from ``best``
(``best-<factor>``), ``recipe`` (the rendered recipes' defaults, from generator/knobs.py) and
any ``recipe`` followed by ``+x`` / ``-x`` changes of RECIPE_TOWARD_SPARSIFY / RECIPE_EXTRAS
(e.g. ``recipe+encoder_tied+reference_loss_grad`` = the recipe defaults before the loss and init
fixes), and the peers in their own venvs (bench/bench_peers.py builds them): ``sparsify`` (lr
3e-4), ``sparsify_auto_lr`` (its own LR rule, constant), ``sparsify_auto_lr_schedule`` (the
same with its Trainer's linear warmup + decay), ``saelens``. Rep ``r`` runs with seed
``--seed + r`` (init and data order).

    python bench/bench_quality.py [--reps 1] [--max-tokens 0] [--only ref,recipe,sparsify]
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
from synthetic import load_or_make  # noqa: E402

HERE = Path(__file__).resolve().parent
WORKER = HERE / "_quality_run.py"

# each factor: the setting that turns it ON (off = the library default)
FACTORS = {
    "unit_norm": {"train": {"unit_norm_latents": True}},
    "grad_proj": {"train": {"project_decoder_grad": True}},
    "no_enc_init": {"model": {"init_encoder_from_decoder": False}},
    "pre_bias_median": {"train": {"pre_bias_init": "geometric_median"}},
    "pre_bias_mean": {"train": {"pre_bias_init": "mean"}},
    "auxk_fraction": {"model": {"auxk": 32}, "train": {"dead_tokens_fraction": 0.05}},
    "auxk_10m": {"model": {"auxk": 32}},
    "lr_sparsify": {
        "train": {"lr_scale_with_latents": True, "lr_reference_hidden_dim": 16384},
        "lr": 2e-4,
    },
    "no_input_norm": {"model": {"normalize_input": False}},
    "aggregate_loss": {"model": {"aggregate_loss": True}},
}
# from the recipe defaults, each change one step toward how sparsify trains
RECIPE_TOWARD_SPARSIFY = {
    "+aggregate_loss": {"model": {"aggregate_loss": True}},
    "+pre_bias_mean": {"train": {"pre_bias_init": "mean"}},
    "+encoder_uniform": {"train": {"encoder_init": "uniform"}},
    "-auxk": {"model": {"auxk": None}, "train": {"dead_tokens_fraction": None}},
}
# further changes to try on the recipe (composable with the above, see compose())
RECIPE_EXTRAS = {
    "+no_grad_proj": {"train": {"project_decoder_grad": False}},
    "+detach_loss_variance": {"train": {"detach_loss_variance": True}},
    # back to the settings recipes had before issue 24's second round (the "old recipe")
    "+reference_loss_grad": {"train": {"detach_loss_variance": False}},
    "+encoder_tied": {"train": {"encoder_init": "tied"}},
    # the recipe's schedule pieces one at a time (recipe+schedule = both, warmup 0)
    "+cosine": {"train": {"lr_schedule": "cosine", "lr_min": 0.0}},
    "+clip": {"train": {"max_grad_norm": 1.0}},
    # train.py's fit_plan warmup for this run: 5% of its 876 steps
    "+warmup": {"train": {"warmup_steps": 44}},
}
BEST = ["unit_norm", "grad_proj", "pre_bias_median", "no_input_norm", "auxk_fraction"]
K = 16  # the k; AuxK latents = 2k for every AuxK contender


def recipe_settings(schedule: bool = False) -> dict:
    """What a rendered train.py builds, from the knob defaults in generator/knobs.py (the one
    definition the recipes use): its TopKSAE switches, its opt-in TrainingConfig settings and its
    LR. The pre-bias is the geometric median (train.py: of a store sample; here: of the first
    batch). The issue's setup stays fixed for every contender (n, k, batch, epochs, AuxK = 2k);
    ``schedule`` adds the recipe's cosine decay and gradient clipping (warmup stays 0: the
    recipe's 1000 steps assume a run far longer than this one's 792)."""
    sys.path.insert(0, str(HERE.parent))
    from generator import knobs

    d = {k.name: k.default for k in knobs.KNOBS}
    train = {
        "unit_norm_latents": d["unit_norm_latents"],
        "project_decoder_grad": d["project_decoder_grad"],
        "dead_tokens_fraction": d["dead_tokens_fraction"],
        "lr_scale_with_latents": d["lr_scale_with_latents"],
        "lr_reference_hidden_dim": d["lr_reference_hidden_dim"],
        "pre_bias_init": "geometric_median" if d["init_pre_bias"] else "none",
        "detach_loss_variance": d["detach_loss_variance"],
        "encoder_init": d["encoder_init"],
    }
    if schedule:
        train.update(
            lr_schedule=d["lr_schedule"], lr_min=d["lr_min"], max_grad_norm=d["max_grad_norm"]
        )
    model = {
        "normalize_input": d["normalize_input"],
        "aggregate_loss": d["aggregate_loss"],
        "auxk": 2 * K,
        "auxk_coef": d["auxk_coef"],
        "dead_tokens_threshold": d["dead_tokens_threshold"],
    }
    return {"model": model, "train": train, "lr": d["lr"]}


def merge(*parts: dict) -> dict:
    out: dict = {"model": {}, "train": {}}
    for p in parts:
        for key, val in p.items():
            if isinstance(val, dict):
                out.setdefault(key, {}).update(val)
            else:
                out[key] = val
    return out


def contenders(best: list[str]) -> dict[str, tuple[str, dict]]:
    runs = {"ref": ("ours", merge())}
    for f, s in FACTORS.items():
        runs[f"+{f}"] = ("ours", merge(s))
    runs["best"] = ("ours", merge(*(FACTORS[f] for f in best)))
    for f in best:
        runs[f"best-{f}"] = ("ours", merge(*(FACTORS[g] for g in best if g != f)))
    for extra in ("aggregate_loss", "lr_sparsify"):
        runs[f"best+{extra}"] = ("ours", merge(*(FACTORS[f] for f in best), FACTORS[extra]))
    runs["recipe"] = ("ours", recipe_settings())
    runs["recipe+schedule"] = ("ours", recipe_settings(schedule=True))
    # one factor at a time from the recipe toward sparsify's training (same LR as its own rule)
    for name, change in RECIPE_TOWARD_SPARSIFY.items():
        runs[f"recipe{name}"] = ("ours", merge(recipe_settings(), change))
    runs["recipe+all_sparsify"] = (
        "ours",
        merge(recipe_settings(), *RECIPE_TOWARD_SPARSIFY.values()),
    )
    runs["sparsify"] = ("sparsify", {})
    runs["sparsify_auto_lr"] = ("sparsify", {"auto_lr": True})
    runs["sparsify_auto_lr_schedule"] = ("sparsify", {"auto_lr": True, "schedule": True})
    runs["saelens"] = ("saelens", {})
    return runs


def compose(name: str) -> tuple[str, dict] | None:
    """``recipe`` followed by any ``+x`` / ``-x`` changes of RECIPE_TOWARD_SPARSIFY and
    RECIPE_EXTRAS (e.g. ``recipe+encoder_uniform-auxk``) -> its contender; None if not one."""
    import re

    if not name.startswith("recipe"):
        return None
    parts = re.findall(r"[+-][a-z_0-9]+", name[len("recipe") :])
    if "".join(parts) != name[len("recipe") :]:
        return None
    sched = recipe_settings(schedule=True)["train"]
    changes = {
        **RECIPE_TOWARD_SPARSIFY,
        **RECIPE_EXTRAS,
        "+schedule": {"train": {k: sched[k] for k in ("lr_schedule", "lr_min", "max_grad_norm")}},
    }
    if any(p not in changes for p in parts):
        return None
    return ("ours", merge(recipe_settings(), *(changes[p] for p in parts)))


def _python(lib: str, venv_root: Path) -> str:
    if lib == "ours":
        return sys.executable
    name = {"sparsify": "sparsify", "saelens": "saelens"}[lib]
    py = venv_root / name / "bin" / "python"
    if not py.exists():
        raise SystemExit(
            f"bench_quality: no venv for {lib} at {py}; run bench/bench_peers.py first"
        )
    return str(py)


def _one(py, lib, settings, data_path, args, rep: int = 0) -> dict:
    """One run in its own process; rep r uses seed ``--seed + r`` (init and data order)."""
    settings = dict(settings)
    lr = settings.pop("lr", args.lr)
    cmd = [py, str(WORKER), "--lib", lib, "--data", str(data_path), "--settings",
           json.dumps(settings), "--lr", str(lr), "--epochs", str(args.epochs),
           "--max-tokens", str(args.max_tokens), "--threads", str(args.threads),
           "--seed", str(args.seed + rep)]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    if lib != "ours":
        env.pop("PYTHONPATH", None)
    load = os.getloadavg()[0]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=7200)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip()[-1500:]}
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["load_1min_at_start"] = round(load, 2)
    return out


def parity(table: dict) -> dict:
    """Each of our contenders (recipe first) against each sparsify run (at the issue's fixed LR
    and at its own automatic LR, the LR our recipe's rule gives too): FVU <= sparsify's and
    dead <= 5% on the held-out set."""
    peers = {
        n: table[n] for n in ("sparsify", "sparsify_auto_lr") if "fvu_median" in table.get(n, {})
    }
    out: dict = {f"{n}_fvu": row["fvu_median"] for n, row in peers.items()}
    for n in ("recipe", "recipe+schedule", "best", "best+lr_sparsify"):
        row = table.get(n, {})
        if "fvu_median" in row:
            out[n] = {
                "fvu": row["fvu_median"],
                "dead_pct_test": row["dead_pct_test_median"],
                "dead_le_5pct": row["dead_pct_test_median"] <= 5.0,
                **{f"fvu_le_{p}": row["fvu_median"] <= v["fvu_median"] for p, v in peers.items()},
            }
    return out


def merge_results(paths: list[Path], out_name: str) -> None:
    """One table from part results run at the same time (each its own bench_quality process)."""
    parts = [json.loads(p.read_text())["figures"] for p in paths]
    table = {n: row for f in parts for n, row in f["table"].items()}
    figures = {
        "setup": {**parts[0]["setup"], "parts": [str(p) for p in paths]},
        "note": "contenders ran concurrently, one bench_quality.py process each, same data, "
        "order and token budget",
        "load_average_start": [f["load_average_start"] for f in parts],
        "load_average_end": [f["load_average_end"] for f in parts],
        "seconds": max(f["seconds"] for f in parts),
        "table": table,
        "parity": parity(table),
    }
    write_result(out_name, figures)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--reps", type=int, default=1)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--max-tokens", type=int, default=0, help="cap per run (0: all epochs)")
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", default="", help="comma list of contender names (default: all)")
    p.add_argument("--out-name", default="quality")
    p.add_argument(
        "--merge",
        nargs="+",
        type=Path,
        default=None,
        help="combine the tables of these result files (contenders run side by side as separate "
        "processes) into --out-name instead of running anything",
    )
    p.add_argument(
        "--data",
        type=Path,
        default=Path.home() / ".cache" / "recipegen-bench-quality" / "synth_seed0.pt",
    )
    p.add_argument(
        "--venv-root", type=Path, default=Path.home() / ".cache" / "recipegen-bench-peers"
    )
    args = p.parse_args()  # fmt: skip
    if args.merge:
        merge_results(args.merge, args.out_name)
        return
    load_or_make(args.data)
    runs = contenders(BEST)
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(runs)
    for n in names:
        if n not in runs and compose(n) is not None:
            runs[n] = compose(n)
    bad = [n for n in names if n not in runs]
    if bad or args.reps < 1:
        print(f"bench_quality: unknown contenders {bad}; choose from {list(runs)}", file=sys.stderr)
        raise SystemExit(2)
    load_start = list(os.getloadavg())
    t0 = time.time()
    results: dict[str, list[dict]] = {n: [] for n in names}
    for rep in range(args.reps):
        for n in names[rep % len(names) :] + names[: rep % len(names)]:
            lib, settings = runs[n]
            r = _one(_python(lib, args.venv_root), lib, settings, args.data, args, rep)
            results[n].append(r)
            said = (f"fvu {r['fvu']:.4f} dead(test) {r['dead_pct_test']:5.1f}% "
                    f"cpu {r['train_cpu_s']:.0f}s" if "fvu" in r else r["error"][-400:])  # fmt: skip
            print(f"rep {rep} {n:22s} {said}", flush=True)
    table = {}
    for n, rs in results.items():
        ok = [r for r in rs if "fvu" in r]
        if not ok:
            table[n] = {"error": rs[-1].get("error") if rs else "no run"}
            continue
        table[n] = {
            "settings": runs[n][1],
            "fvu_median": statistics.median(r["fvu"] for r in ok),
            "fvu_min_max": [min(r["fvu"] for r in ok), max(r["fvu"] for r in ok)],
            "dead_pct_test_median": statistics.median(r["dead_pct_test"] for r in ok),
            "train_cpu_s_median": statistics.median(r["train_cpu_s"] for r in ok),
            "tokens": ok[0]["tokens"],
            "runs": ok,
        }
    figures = {
        "setup": {"n": 2048, "k": 16, "batch": 1024, "lr": args.lr, "epochs": args.epochs,
                  "max_tokens": args.max_tokens or None, "threads": args.threads,
                  "reps": args.reps, "best": BEST, "data": "bench/synthetic.py seed 0"},
        "load_average_start": load_start,
        "load_average_end": list(os.getloadavg()),
        "seconds": round(time.time() - t0, 1),
        "table": table,
    }  # fmt: skip
    figures["parity"] = parity(table)
    write_result(args.out_name, figures)


if __name__ == "__main__":
    main()
