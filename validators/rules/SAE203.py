"""## What it does
Reports `--dead-count-global` passed unconditionally to a single-process run.

## Why is this bad?
It is a no-op at dp-size 1. Usually it means the launch was meant to be multi-process (check
`--nproc_per_node`/`--dp-size`), or the run is named as if it tested the flag when it cannot.

## Example
```bash
python train.py --cache-dir c --dead-count-global
```

## Use instead
```bash
torchrun --nproc_per_node 4 train.py --dp-size 4 --dead-count-global
```
"""

from recipegen.validators.model import Invalid, Symptom
from recipegen.validators.rules._helpers import DP_FLAGS, int_of, training_launches, world_size

CODE = "SAE203"
NAME = "dead-count-global-noop"
SEVERITY = "warning"
SUMMARY = "--dead-count-global on a single-process run is a no-op"
GOTCHAS = (5,)
KIND = "shell"
EXAMPLE_PATH = "launch.sh"
LAUNCH = True

# --- what the generated pages say (docs/gotchas.md, troubleshooting.md, SKILL.md) ---
SKILL_ROW = "`--dead-count-global` on a single process does nothing"
SYMPTOMS = (
    Symptom(
        "Training quality",
        "`--dead-count-global` passed on one process",
        "remove it (a no-op) or launch more processes",
    ),
)

VALID = [
    "torchrun --nproc_per_node 2 train.py --dp-size 2 --dead-count-global\n",
    'torchrun --nproc_per_node "$NPROC" train.py --dp-size "$NPROC" --dead-count-global\n',
    'torchrun --nnodes "$NNODES" --nproc_per_node 1 train.py --dp-size "$NNODES" '
    "--dead-count-global\n",
    # srun starts one python per task: -n4, or nodes x tasks per node
    "srun -n4 python train.py --dp-size 4 --dead-count-global\n",
    "srun -N 2 --ntasks-per-node=1 python train.py --dp-size 2 --dead-count-global\n",
]
INVALID = [
    Invalid("python train.py --cache-dir c --dead-count-global\n", 1, "no-op"),
    Invalid("torchrun --nproc_per_node 1 train.py --dp-size 1 --dead-count-global\n", 1, "no-op"),
    Invalid("srun -n 1 python train.py --dead-count-global\n", 1, "run with srun -n > 1"),
]


def check(ctx):
    f = ctx.facts
    for inv, _, flags in training_launches(ctx):
        dcg = next((u for u in flags if u.name == "--dead-count-global"), None)
        if dcg is None or dcg.conditional:
            continue
        world = world_size(f, inv)
        if world != (1, ()):
            continue
        dp = next((u.value for u in flags if u.name in DP_FLAGS), None)
        d, dvar = int_of(f, dp) if dp is not None else (1, False)
        if (d or 1) == 1 and not dvar:
            yield ctx.finding(
                inv.line,
                "`--dead-count-global` on a single-process run is a no-op; run with "
                + (
                    "srun -n > 1"
                    if inv.wrapper == "srun" and inv.program == "python"
                    else "--nproc_per_node > 1"
                )
                + " or drop it",
            )
