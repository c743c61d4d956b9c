"""Helpers for the end-to-end tests: render a recipe, build tiny models and inputs, run
`launch.sh` in a subprocess with the test fixtures and the `sae` runtime importable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
LAUNCH_TIMEOUT_S = 900


def run_env(**overrides: str) -> dict[str, str]:
    """Environment for launch.sh: this interpreter, its torchrun, fixtures + sae on PYTHONPATH."""
    path = [str(FIXTURES), str(REPO / "sae" / "src")]
    if os.environ.get("PYTHONPATH"):
        path.append(os.environ["PYTHONPATH"])
    env = dict(os.environ)
    env.pop("WANDB_API_KEY", None)
    env.update(
        PYTHONPATH=os.pathsep.join(path),
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        PYTHON=sys.executable,
        DEVICE="cpu",
        OMP_NUM_THREADS="1",
        TQDM_DISABLE="1",
    )
    env.update(overrides)
    return env


def write_standin(model: str, out: Path, *args: str) -> Path:
    """Run the committed `model` recipe's own stand-in writer (recipes/<model>_sae/standin.py,
    rendered from its kind folder) into `out`; return the tiny model's folder, out/model."""
    script = REPO / "recipes" / f"{model}_sae" / "standin.py"
    command = [sys.executable, str(script), "--out", str(out), *args]
    subprocess.run(command, env=run_env(), check=True, timeout=LAUNCH_TIMEOUT_S)
    return out / "model"


def render(model: str, out: Path) -> Path:
    """Render a shipped recipe with the generator API; return its directory."""
    from recipegen.generator.generate import generate
    from recipegen.generator.write import write

    rendered = generate(model)
    directory = out / rendered.dirname
    write(directory, rendered.files, force=True)
    return directory


def run_launch(recipe: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        ["bash", str(recipe / "launch.sh"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=LAUNCH_TIMEOUT_S,
    )
    assert proc.returncode == 0, (
        f"launch.sh failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
    )
    return proc


def held_out_keys(cache: Path) -> set:
    """Identity of the sequences in a cache: input indices, or chunk texts (predict_cli)."""
    meta = json.loads((cache / "metadata.json").read_text())
    order = json.loads((cache / meta["sequence_order_file"]).read_text())
    if "sequences_file" in meta:
        chunks = (cache / meta["sequences_file"]).read_text().splitlines()[1::2]
        return {chunks[i] for i, _ in order}
    return {i for i, _ in order}


def check_artifacts(work: Path, expansion: int) -> dict:
    """Store metadata, checkpoint shapes, finite metrics, FVU < 1, report files."""
    import math

    import torch

    train_meta = json.loads((work / "cache_train" / "metadata.json").read_text())
    eval_meta = json.loads((work / "cache_eval" / "metadata.json").read_text())
    for meta, split in ((train_meta, "train"), (eval_meta, "eval")):
        assert meta["split"] == split
        assert meta["dtype"] in ("float16", "float32")  # never bf16 in the store
        assert meta["n_samples"] > 0 and meta["n_shards"] >= 1
        assert {"model_name", "layer", "n_sequences", "input", "shard_size"} <= set(meta)
    assert eval_meta["dtype"] == train_meta["dtype"]
    # the held-out cache never holds training sequences
    train_seqs, eval_seqs = held_out_keys(work / "cache_train"), held_out_keys(work / "cache_eval")
    assert eval_seqs and train_seqs and not (train_seqs & eval_seqs)
    assert not list(work.rglob(".rank_*")), "per-rank stores must be merged and removed"
    hidden = train_meta["hidden_dim"]
    assert eval_meta["hidden_dim"] == hidden
    ckpt = torch.load(work / "sae" / "checkpoint_final.pt", map_location="cpu", weights_only=True)
    enc = next(v for k, v in ckpt["model_state_dict"].items() if "enc" in k and v.ndim == 2)
    assert sorted(enc.shape) == sorted([hidden, expansion * hidden])
    assert ckpt["input_dim"] == hidden and ckpt["hidden_dim"] == expansion * hidden
    assert all(torch.isfinite(v).all() for v in ckpt["model_state_dict"].values())
    report = json.loads((work / "eval" / "report.json").read_text())
    assert (work / "eval" / "training_curves.png").stat().st_size > 1000
    ev = report["eval"]
    assert all(math.isfinite(ev[k]) for k in ("fvu", "mse", "l0", "dead_pct"))
    assert 0 < ev["fvu"] < 1
    assert ev["n_tokens"] == eval_meta["n_samples"]
    assert math.isfinite(report["training"]["final_loss"])
    return report


def write_fasta(path: Path, records: list[str]) -> Path:
    path.write_text("".join(f">s{i}\n{r}\n" for i, r in enumerate(records)))
    return path
