"""Exact findings (not just presence) for the shapes where a second, redundant finding used to
appear, and for multi-node launches."""

from __future__ import annotations

import pytest
from recipegen.validators.engine import lint_sources


def _got(sources: dict, code: str) -> list[tuple[str, int]]:
    return [(f.path, f.line) for f in lint_sources(sources) if f.code == code]


def test_wandb_continuation_line_is_not_a_second_finding():
    src = "python train.py --cache-dir c \\\n  --wandb \\\n  --wandb-run-name r1\n"
    got = _got({"launch.sh": src}, "SAE206")
    assert got == [("launch.sh", 2), ("launch.sh", 2)]  # key not unset, no entity: one line


def test_wandb_enabled_by_the_key_is_reported_once_per_if():
    src = (
        'if [[ -n "${WANDB_API_KEY:-}" ]]; then\n'
        "  args+=(--wandb)\n"
        "  args+=(--wandb-run-name r1)\n"
        "  args+=(--wandb-project p)\n"
        "fi\n"
    )
    assert _got({"launch.sh": src}, "SAE206") == [("launch.sh", 2)]


@pytest.mark.parametrize(
    "launch,expected",
    [
        ('torchrun --nnodes "$N" --nproc_per_node "$P" train.py --dp-size $((N * P))', []),
        ('torchrun --nnodes "$N" --nproc_per_node "$P" train.py --dp-size $((P * N))', []),
        ('torchrun --nnodes "$N" --nproc_per_node "$P" train.py --dp-size "$P"', [1]),
        ("torchrun --nnodes 2 --nproc_per_node 4 train.py --dp-size 4", [1]),
        ("torchrun --nnodes=2 --nproc-per-node=4 train.py --dp-size=8", []),
        ('srun python train.py --dp-size "$SLURM_NTASKS"', []),
        ('srun python train.py --dp-size "$SLURM_NNODES"', [1]),
        (
            'torchrun --nnodes "$SLURM_JOB_NUM_NODES" --nproc_per_node "$SLURM_GPUS_PER_NODE" '
            "train.py --dp-size $((SLURM_NNODES * SLURM_GPUS_ON_NODE))",
            [],
        ),
        ("torchrun --nproc_per_node gpu train.py --dp-size 8", []),  # unknown: not judged
    ],
)
def test_world_size_across_nodes(launch, expected):
    got = _got({"launch.sh": launch + " --dead-count-global\n"}, "SAE205")
    assert [line for _, line in got] == expected


def test_python_driver_consistent_world_is_clean():
    src = (
        "import subprocess\n"
        "def main(cfg):\n"
        "    nodes, gpus = cfg.nodes, cfg.gpus\n"
        "    world = nodes * gpus\n"
        '    subprocess.run(["torchrun", f"--nnodes={nodes}", f"--nproc_per_node={gpus}",\n'
        '                    "train.py", "--dp-size", str(world), "--dead-count-global"])\n'
    )
    assert lint_sources({"run.py": src}) == []
