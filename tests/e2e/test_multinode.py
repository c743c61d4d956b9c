"""Multi-node launches: two torchrun "nodes" on one machine (c10d on 127.0.0.1, gloo) equal a
single-node 2-process run; slurm.sbatch driven by stand-in sbatch/srun/scontrol/torchrun."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from e2e_helpers import LAUNCH_TIMEOUT_S, check_artifacts, render, run_env, run_launch

from recipegen.cli import main

pytestmark = pytest.mark.e2e
QUICK = {"MAX_SEQUENCES": "40", "EVAL_FRACTION": "0.25", "BATCH_SIZE": "256", "N_EPOCHS": "1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_nodes_equal_one_node_with_two_processes(tmp_path, tiny_esm2, protein_fasta):
    import torch

    recipe = render("esm2", tmp_path)
    common = dict(QUICK, INPUT=str(protein_fasta), CHECKPOINT=str(tiny_esm2), SEED="3")

    # two "nodes": launch.sh started twice, 1 process each, one shared WORK folder
    two = tmp_path / "two_nodes"
    port = str(free_port())
    procs = [
        subprocess.Popen(
            ["bash", str(recipe / "launch.sh"), "--smoke"],
            env=run_env(
                **common,
                WORK=str(two),
                NNODES="2",
                NODE_RANK=str(rank),
                MASTER_ADDR="127.0.0.1",
                MASTER_PORT=port,
                RUN_ID="two-node-test",
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]
    outputs = [p.communicate(timeout=LAUNCH_TIMEOUT_S) for p in procs]
    for rank, (p, (out, err)) in enumerate(zip(procs, outputs, strict=True)):
        assert p.returncode == 0, f"node {rank} failed:\n{out[-3000:]}\n{err[-5000:]}"
    assert "node 1: done" in outputs[1][0]
    assert (two / "eval" / "report.json").is_file()  # node 0 evaluated

    # the same pipeline on one node with two processes
    one = tmp_path / "one_node"
    run_launch(recipe, run_env(**common, WORK=str(one), NPROC="2", EXTRACT_NPROC="2"), "--smoke")

    for split in ("cache_train", "cache_eval"):
        m2 = json.loads((two / split / "metadata.json").read_text())
        m1 = json.loads((one / split / "metadata.json").read_text())
        assert m2["world_size"] == m1["world_size"] == 2
        assert (m2["n_samples"], m2["n_sequences"]) == (m1["n_samples"], m1["n_sequences"])
        assert (two / split / "sequence_order.json").read_text() == (
            one / split / "sequence_order.json"
        ).read_text()
    assert not list(two.rglob(".rank_*"))
    a2 = json.loads((two / "sae" / "train_args.json").read_text())
    assert a2["dp_size"] == 2
    w2 = torch.load(two / "sae" / "checkpoint_final.pt", weights_only=True)["model_state_dict"]
    w1 = torch.load(one / "sae" / "checkpoint_final.pt", weights_only=True)["model_state_dict"]
    assert w2.keys() == w1.keys()
    for key in w1:
        assert torch.equal(w2[key], w1[key]), key


def test_launch_sh_refuses_bad_node_settings(tmp_path, protein_fasta):
    recipe = render("esm2", tmp_path)
    cases = {
        "NODE_RANK": dict(NNODES="2", NODE_RANK="2", MASTER_ADDR="h"),
        "MASTER_ADDR": dict(NNODES="2", NODE_RANK="1"),
        "NNODES": dict(NNODES="0"),
        "MASTER_PORT": dict(NNODES="2", NODE_RANK="0", MASTER_ADDR="h", MASTER_PORT="7e4"),
    }
    for knob, extra in cases.items():
        env = run_env(INPUT=str(protein_fasta), WORK=str(tmp_path / "w"), **extra)
        if "MASTER_ADDR" not in extra:
            env.pop("MASTER_ADDR", None)
        proc = subprocess.run(
            ["bash", str(recipe / "launch.sh")], env=env, capture_output=True, text=True
        )
        assert proc.returncode == 2 and knob in proc.stderr, (knob, proc.stderr)
    assert not (tmp_path / "w").exists()


# Stand-ins: each appends its argv (one JSON list per line) to $RECORD/<name>.jsonl.
RECORDER = """#!/usr/bin/env bash
python3 - "$0" "$@" <<'PY'
import json, os, sys
name = os.path.basename(sys.argv[1])
with open(os.path.join(os.environ["RECORD"], name + ".jsonl"), "a") as fh:
    fh.write(json.dumps({"argv": sys.argv[2:], "node": os.environ.get("SLURM_NODEID")}) + "\\n")
PY
"""
# srun: runs `bash slurm.sbatch --step ...` once per node with SLURM_NODEID set, like Slurm would.
SRUN_TAIL = """
args=("$@")
while [[ ${#args[@]} -gt 0 && "${args[0]}" == -* ]]; do args=("${args[@]:1}"); done
if [[ " ${args[*]} " == *" --step "* ]]; then
  for ((node = 0; node < SLURM_NNODES; node++)); do SLURM_NODEID=$node "${args[@]}"; done
fi
"""
# sbatch: reads the #SBATCH lines like sbatch, then runs the script as the batch step.
SBATCH_TAIL = """
script="${@: -1}"
nodes=$(sed -n 's/^#SBATCH --nodes=//p' "$script")
for a in "$@"; do [[ "$a" == --nodes=* ]] && nodes="${a#--nodes=}"; done
export SLURM_JOB_ID=4242 SLURM_NNODES="$nodes" SLURM_JOB_NODELIST="nodeA,nodeB" SLURM_SUBMIT_DIR="$PWD"
bash "$script"
"""
SCONTROL_TAIL = """
[[ "$1 $2" == "show hostnames" ]] && tr ',' '\\n' <<<"$3"
"""


def _stand_ins(folder: Path) -> None:
    folder.mkdir()
    for name, tail in (
        ("srun", SRUN_TAIL),
        ("sbatch", SBATCH_TAIL),
        ("scontrol", SCONTROL_TAIL),
        ("torchrun", ""),
    ):
        path = folder / name
        path.write_text(RECORDER + tail)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _records(folder: Path, name: str) -> list[dict]:
    path = folder / f"{name}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _opt(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def test_slurm_sbatch_runs_every_step_with_srun_and_torchrun(tmp_path, protein_fasta):
    out = tmp_path / "out"
    overrides = ["slurm.nodes=2", "slurm.gpus_per_node=4", "slurm.partition=gpu-big"]
    overrides += ["slurm.account=proj_1", "slurm.time=1-02:00:00", "slurm.port=29611"]
    result = CliRunner().invoke(
        main, ["new", "esm2", "--out", str(out)] + [a for o in overrides for a in ("--set", o)]
    )
    assert result.exit_code == 0, result.output
    recipe = out / "esm2_sae"
    script = (recipe / "slurm.sbatch").read_text()
    for line in (
        "#SBATCH --nodes=2",
        "#SBATCH --gpus-per-node=4",
        "#SBATCH --partition=gpu-big",
        "#SBATCH --account=proj_1",
        "#SBATCH --time=1-02:00:00",
    ):
        assert line + "\n" in script
    assert subprocess.run(["bash", "-n", str(recipe / "slurm.sbatch")]).returncode == 0
    lint = CliRunner().invoke(main, ["lint", str(recipe / "slurm.sbatch")])
    assert lint.exit_code == 0, lint.output

    bin_dir, record = tmp_path / "bin", tmp_path / "record"
    _stand_ins(bin_dir)
    record.mkdir()
    env = dict(os.environ, RECORD=str(record), INPUT=str(protein_fasta))
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    for k in [k for k in env if k.startswith(("SLURM_", "MASTER_"))]:
        env.pop(k)
    proc = subprocess.run(
        ["sbatch", "slurm.sbatch"], cwd=recipe, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr

    assert [r["argv"] for r in _records(record, "sbatch")] == [["slurm.sbatch"]]
    sruns = [r["argv"] for r in _records(record, "srun")]
    steps = [a[a.index("--step") + 1 :] for a in sruns if "--step" in a]
    assert [s[:2] for s in steps] == [["extract", "train"], ["extract", "eval"], ["train"]]
    for argv in sruns[:3]:
        assert "--nodes=2" in argv and "--ntasks-per-node=1" in argv
    assert sruns[3][:2] == ["--nodes=1", "--ntasks=1"] and sruns[3][3].endswith("eval.py")

    runs = _records(record, "torchrun")
    assert len(runs) == 6  # 3 steps x 2 nodes
    for i, run in enumerate(runs):
        argv = run["argv"]
        assert _opt(argv, "--nnodes") == "2" and _opt(argv, "--nproc_per_node") == "4"
        assert _opt(argv, "--node-rank") == run["node"] == str(i % 2)
        assert _opt(argv, "--rdzv-backend") == "c10d"
        assert _opt(argv, "--rdzv-endpoint") == "nodeA:29611"
        assert _opt(argv, "--rdzv-id").startswith("4242-")
    train = [r["argv"] for r in runs if any(a.endswith("train.py") for a in r["argv"])]
    assert len(train) == 2
    for argv in train:
        assert _opt(argv, "--dp-size") == "8"  # 2 nodes x 4 processes
        assert "--dead-count-global" in argv
    extracts = [r["argv"] for r in runs if any(a.endswith("extract.py") for a in r["argv"])]
    assert {_opt(a, "--split") for a in extracts} == {"train", "eval"}
    assert all(_opt(a, "--input") == str(protein_fasta) for a in extracts)

    # sbatch --nodes=3 on the command line wins over the directive, consistently
    for f in record.iterdir():
        f.unlink()
    proc = subprocess.run(
        ["sbatch", "--nodes=3", "slurm.sbatch"], cwd=recipe, env=env, capture_output=True
    )
    assert proc.returncode == 0
    train = [r["argv"] for r in _records(record, "torchrun") if "--dp-size" in r["argv"]]
    assert len(train) == 3 and {_opt(a, "--dp-size") for a in train} == {"12"}

    # the GPUs Slurm actually allocated per node win over the spec's count
    for f in record.iterdir():
        f.unlink()
    env_gpus = dict(env, SLURM_GPUS_ON_NODE="2")
    proc = subprocess.run(["sbatch", "slurm.sbatch"], cwd=recipe, env=env_gpus, capture_output=True)
    assert proc.returncode == 0
    runs = _records(record, "torchrun")
    assert {_opt(r["argv"], "--nproc_per_node") for r in runs} == {"2"}
    assert {_opt(r["argv"], "--dp-size") for r in runs if "--dp-size" in r["argv"]} == {"4"}


@pytest.mark.parametrize(
    "override",
    ["slurm.partition=gpu;rm -rf x", "slurm.account=$(id)", "slurm.time=4 hours", "slurm.nodes=0"],
)
def test_hostile_slurm_values_are_refused(tmp_path, override):
    result = CliRunner().invoke(main, ["new", "esm2", "--out", str(tmp_path), "--set", override])
    assert result.exit_code == 2
    assert override.split("=")[0] in result.output and "Traceback" not in result.output
    assert not list(tmp_path.iterdir())


def test_tensor_parallel_option_renders_into_train_and_launchers(tmp_path):
    result = CliRunner().invoke(
        main, ["new", "esm2", "--out", str(tmp_path), "--set", "sae.tensor_parallel=2"]
    )
    assert result.exit_code == 0, result.output
    recipe = tmp_path / "esm2_sae"
    train = (recipe / "train.py").read_text()
    assert '"--tensor-parallel",\n        type=int,\n        default=2,' in train
    launch = (recipe / "launch.sh").read_text()
    assert "D_TENSOR_PARALLEL=2\n" in launch and "  D_TENSOR_PARALLEL=1\n" in launch  # smoke: 1
    sbatch = (recipe / "slurm.sbatch").read_text()
    assert '--dp-size "$((SLURM_NNODES * GPUS_PER_NODE / TENSOR_PARALLEL))"' in sbatch
    refused = CliRunner().invoke(
        main, ["new", "esm2", "--out", str(tmp_path / "x"), "--set", "sae.tensor_parallel=0"]
    )
    assert refused.exit_code == 2 and "sae.tensor_parallel" in refused.output
    uneven = CliRunner().invoke(  # esm2 8M: 8 x 320 = 2560 latents
        main, ["new", "esm2", "--out", str(tmp_path / "y"), "--set", "sae.tensor_parallel=3"]
    )
    assert uneven.exit_code == 2 and "2560 latents" in uneven.output


def _tiny_store(path: Path, hidden: int = 16, rows: int = 512) -> Path:
    import torch
    from sae.activation_store import ActivationStore, ActivationStoreConfig

    store = ActivationStore(str(path), ActivationStoreConfig(shard_size=128))
    torch.manual_seed(0)
    basis = torch.randn(8, hidden)
    codes = torch.relu(torch.randn(rows, 8))
    store.append((codes @ basis).to(torch.float32))
    store.finalize(metadata={"model_name": "esm2", "layer": 5, "hidden_dim": hidden})
    return path


def test_tensor_parallel_world_size_is_checked(tmp_path):
    recipe = render("esm2", tmp_path)
    store = _tiny_store(tmp_path / "cache")
    proc = subprocess.run(
        [sys.executable, str(recipe / "train.py"), "--cache-dir", str(store), "--tensor-parallel",
         "2", "--output-dir", str(tmp_path / "out")],
        env=run_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode != 0 and "--tensor-parallel 2" in proc.stderr
    assert "WORLD_SIZE=1" in proc.stderr and "Traceback" not in proc.stderr


def test_tensor_parallel_training_at_two_ranks_gloo(tmp_path):
    import torch
    from sae import architectures

    recipe = render("esm2", tmp_path)
    store = _tiny_store(tmp_path / "cache")
    out = tmp_path / "out"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        str(recipe / "train.py"), "--cache-dir", str(store), "--output-dir", str(out),
        "--dp-size", "1", "--tensor-parallel", "2", "--expansion-factor", "4", "--top-k", "4",
        "--auxk", "8", "--batch-size", "64", "--n-epochs", "2", "--lr-schedule", "constant",
        "--warmup-steps", "0", "--lr", "3e-3", "--device", "cpu", "--seed", "1",
    ]  # fmt: skip
    proc = subprocess.run(cmd, env=run_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    ckpt = torch.load(out / "checkpoint_final.pt", map_location="cpu", weights_only=True)
    assert (ckpt["input_dim"], ckpt["hidden_dim"], ckpt["tensor_parallel"]) == (16, 64, 2)
    state = ckpt["model_state_dict"]
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())
    enc = next(v for k, v in state.items() if "enc" in k and v.ndim == 2)
    assert sorted(enc.shape) == [16, 64]  # the merged, dense encoder: both shards present
    assert len(list((out / "tp_shards").glob("shard_*.pt"))) == 2
    dense = architectures.TopKSAE(**ckpt["model_config"])  # what eval.py rebuilds
    dense.load_state_dict(state)
    # it learned: the merged SAE reconstructs the training data better than a fresh one
    from sae.activation_store import ActivationStore

    shards = ActivationStore(str(store)).iter_shards(False, 0)  # numpy arrays, as the reference
    data = torch.cat([torch.as_tensor(s) for s in shards]).float()
    torch.manual_seed(1)
    fresh = architectures.TopKSAE(**ckpt["model_config"])
    with torch.no_grad():
        trained_fvu, fresh_fvu = (float(m.loss(data)["fvu"]) for m in (dense, fresh))
    assert trained_fvu < 0.8 * fresh_fvu, (trained_fvu, fresh_fvu)


def test_tensor_parallel_smoke_through_launch_sh(tmp_path, tiny_esm2, protein_fasta):
    """extract -> tensor-parallel train (2 gloo ranks) -> eval on the merged checkpoint."""
    recipe = render("esm2", tmp_path)
    work = tmp_path / "work"
    env = run_env(
        **QUICK,
        INPUT=str(protein_fasta),
        CHECKPOINT=str(tiny_esm2),
        WORK=str(work),
        NPROC="2",
        EXTRACT_NPROC="1",
        TENSOR_PARALLEL="2",
        LR_SCHEDULE="constant",
        WARMUP_STEPS="0",
    )
    run_launch(recipe, env, "--smoke")
    report = check_artifacts(work, expansion=4)
    args = json.loads((work / "sae" / "train_args.json").read_text())
    assert (args["dp_size"], args["tensor_parallel"]) == (1, 2)
    assert len(list((work / "sae" / "tp_shards").glob("shard_*.pt"))) == 2
    rows = [json.loads(x) for x in (work / "sae" / "metrics.jsonl").read_text().splitlines()]
    assert rows and all({"step", "loss", "fvu"} <= set(r) for r in rows)
    assert report["training"]["final_step"] == rows[-1]["step"]
