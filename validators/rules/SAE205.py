"""## What it does
Checks that a training launch's `--dp-size` equals the number of processes it starts: torchrun's
`--nproc_per_node` x `--nnodes` (one torchrun per node), the Slurm task count for `srun python`,
1 for plain `python`. Values are compared as products of literals and variables: `"$NPROC"` is
the same value wherever it appears (also in `--nproc_per_node="$NPROC"`), `WORLD=$((NNODES *
NPROC))` and `$((SLURM_NNODES * SLURM_GPUS_ON_NODE))` are followed, and `$SLURM_NTASKS` is
`SLURM_NNODES x SLURM_NTASKS_PER_NODE`. Different variables (or a variable vs a literal) are
reported because the environment can change one without the other. A missing `--dp-size` under
a multi-process torchrun is reported too. Launches a Python driver assembles (`run.py` building
a torchrun argv from config keys) are checked the same way.

## Why is this bad?
`--dp-size 1` under `torchrun --nproc_per_node N` silently trains N independent SAEs; a dp-size
above the world size shards the data wrong and can hang. On several nodes the world is
nodes x processes per node, not the per-node count.

## Example
```bash
torchrun --nnodes "$NNODES" --nproc_per_node "$NPROC" train.py --dp-size "$NPROC"
```

## Use instead
```bash
torchrun --nnodes "$NNODES" --nproc_per_node "$NPROC" train.py --dp-size $((NNODES * NPROC)) \
  --dead-count-global
```
"""

from recipegen.validators.model import Fact, Invalid, Symptom
from recipegen.validators.rules._helpers import (
    DP_FLAGS,
    int_of,
    product_of,
    show,
    show_product,
    training_launches,
    world_size,
)

CODE = "SAE205"
NAME = "dp-size-mismatch"
SEVERITY = "error"
SUMMARY = "--dp-size differs from the world size (--nproc_per_node x --nnodes)"
GOTCHAS = (6,)
KIND = "shell"
EXAMPLE_PATH = "launch.sh"
LAUNCH = True

# --- what the generated pages say (docs/gotchas.md, troubleshooting.md, SKILL.md) ---
SKILL_ROW = "`--dp-size` differs from `--nproc_per_node` x `--nnodes`"
SYMPTOMS = (
    Symptom(
        "Training quality",
        "N SAEs trained instead of one; per-rank checkpoints disagree",
        "`--dp-size` must equal `--nproc_per_node` x `--nnodes` (recipes use one variable for both)",
    ),
)
FACTS = {
    6: Fact(
        "Launch script (`launch.sh` and other orchestrators)",
        "`--dp-size` equals the number of training processes",
        """\
Processes per node times nodes. Rule: **SAE205**.
""",
    ),
}

VALID = [
    "srun -N 2 --ntasks-per-node=4 -l python train.py --dp-size 8\n",
    'NPROC="${NPROC:-1}"\ntorchrun --nproc_per_node "$NPROC" train.py --dp-size "$NPROC"\n',
    'NPROC="${NPROC:-4}"\ntorchrun --nproc_per_node="$NPROC" train.py --dp-size "$NPROC"\n',
    "torchrun --nnodes 2 --nproc_per_node 4 train.py --dp-size 8 --dead-count-global\n",
    "NPROC=2\ntorchrun --nproc_per_node $NPROC train.py --dp-size 2 --dead-count-global\n",
    'NNODES="${NNODES:-1}"\nNPROC="${NPROC:-8}"\nWORLD=$((NNODES * NPROC))\n'
    'torchrun --nnodes "$NNODES" --nproc_per_node "$NPROC" train.py --dp-size "$WORLD"\n',
    'srun torchrun --nnodes "$SLURM_NNODES" --nproc_per_node "$SLURM_GPUS_ON_NODE" train.py \\\n'
    "  --dp-size $((SLURM_NNODES * SLURM_GPUS_ON_NODE)) --dead-count-global\n",
    'srun python train.py --dp-size "$SLURM_NTASKS" --dead-count-global\n',
    {
        "run.py": "import subprocess\n"
        "def _torchrun_prefix(nproc, nnodes=1):\n"
        '    return ["torchrun", f"--nnodes={nnodes}", f"--nproc_per_node={nproc}"]\n'
        "def main(cfg):\n"
        '    cmd = [*_torchrun_prefix(cfg.nproc, nnodes=cfg.nodes), "train.py",\n'
        '           "--dp-size", str(cfg.nodes * cfg.nproc), "--dead-count-global"]\n'
        "    subprocess.run(cmd)\n"
    },
    # a script that cannot be read and is not launched like an sae training recipe
    "torchrun --nproc_per_node 8 train_lm.py --lr 1e-4 --max-epochs 3\n",
    {
        "run.py": "import subprocess\n"
        "def main(cfg):\n"
        "    n = cfg.nproc\n"
        '    subprocess.run(["torchrun", f"--nproc_per_node={n}", "train.py",\n'
        '                    "--dp-size", str(n), "--dead-count-global"])\n'
    },
]
INVALID = [
    Invalid("torchrun --nproc_per_node 4 train.py --dp-size 1\n", 1, "torchrun starts 4"),
    Invalid('torchrun --nproc_per_node "$NPROC" train.py --dp-size "$DP"\n', 1, "can differ"),
    Invalid("torchrun --nproc_per_node 4 train.py --cache-dir c\n", 1, "without `--dp-size`"),
    Invalid("python train.py --dp-size 4\n", 1, "single `python` process"),
    Invalid(
        'NNODES="${NNODES:-2}"\nNPROC="${NPROC:-8}"\n'
        'torchrun --nnodes="$NNODES" --nproc_per_node="$NPROC" train.py \\\n'
        '  --dp-size "$NPROC"\n',
        3,
        "$NNODES x $NPROC",
    ),
    Invalid(
        {
            "run.py": "import subprocess\n"
            "def main(cfg):\n"
            '    cmd = ["torchrun", f"--nproc_per_node={cfg.trainer.nproc}", "train.py",\n'
            '           "--dp-size", str(cfg.trainer.dp_size)]\n'
            "    subprocess.run(cmd)\n"
        },
        3,
        "cfg.trainer.dp_size",
        "run.py",
    ),
    # the torchrun prefix comes from a helper of the driver: followed, parameters substituted
    Invalid(
        {
            "run.py": "import subprocess\n"
            "def _torchrun_prefix(nproc, nnodes=1):\n"
            '    return ["torchrun", f"--nnodes={nnodes}", f"--nproc_per_node={nproc}"]\n'
            "def main(cfg):\n"
            '    cmd = [*_torchrun_prefix(cfg.nproc), "train.py", "--dp-size", str(cfg.dp_size)]\n'
            "    subprocess.run(cmd)\n"
        },
        5,
        "`--dp-size cfg.dp_size` and the world size (cfg.nproc) can differ",
        "run.py",
    ),
    # srun starts one python per task; its own -n / --ntasks count them
    Invalid("srun -n 4 python train.py --dp-size 8\n", 1, "but srun starts 4 processes"),
]


def check(ctx):
    f = ctx.facts
    for inv, target, flags in training_launches(ctx):
        dp = next((u.value for u in flags if u.name in DP_FLAGS), None)
        world = world_size(f, inv)
        if inv.program != "torchrun" and inv.wrapper != "srun":
            d, dvar = int_of(f, dp)
            if d is not None and d > 1 and not dvar:
                yield ctx.finding(
                    inv.line,
                    f"`--dp-size {d}` but a single `python` process; "
                    f"launch with torchrun --nproc_per_node {d}",
                )
            continue
        if dp is None:
            defines = target is None or target.flag("--dp-size") is not None
            if defines and inv.program == "torchrun" and world != (1, ()):
                yield ctx.finding(
                    inv.line,
                    "multi-process torchrun without `--dp-size`: every rank trains its own "
                    "SAE; pass `--dp-size` equal to the world size",
                )
            continue
        d = product_of(f, dp.raw)
        if d is None or world is None or d == world:
            continue  # unknown (e.g. `$(nproc)`), or the same product
        shown = show_product(world, getattr(f, "labels", {}))
        if not d[1] and not world[1]:
            yield ctx.finding(
                inv.line,
                f"`--dp-size {d[0]}` but {_launcher(inv)} starts {world[0]} processes; "
                "make them equal",
            )
        else:
            yield ctx.finding(
                inv.line,
                f"`--dp-size {show(f, dp.raw)}` and the world size ({shown}) can differ; "
                "pass the product of the same values (e.g. `--dp-size $((NNODES * NPROC))`)",
            )


def _launcher(inv) -> str:
    return "torchrun" if inv.program == "torchrun" else "srun"
