"""## What it does
Reports a multi-process training launch (`--nproc_per_node` or `--dp-size` above 1, literal or a
variable) without `--dead-count-global`, as a warning; as an error when the run name or a nearby
comment claims it (`dcg`, `dead-count-global`) but the flag is not passed. A flag added to an
argument array inside `if (( NPROC > 1 ))` counts as passed. Several nodes (`--nnodes`, Slurm)
count as multi-process; a torchrun argv a Python driver assembles is checked too. Recipes pinned
to an `sae` release without `dead_count_global` (`[tool.recipegen] sae-version`) are skipped.

## Why is this bad?
Without it each rank counts inactivity in its own tokens only, so AuxK revives latents
world_size times too late; a run *named* `dcg` without the flag is a baseline in disguise.

## Example
```bash
torchrun --nproc_per_node 8 train.py --dp-size 8 --run-name evo2_l26_dcg
```

## Use instead
```bash
torchrun --nproc_per_node 8 train.py --dp-size 8 --dead-count-global --run-name evo2_l26_dcg
```
"""

import re

from recipegen.validators.lazy_re import compile_lazy
from recipegen.validators.model import Fact, Invalid, Symptom
from recipegen.validators.rules._helpers import (
    DP_FLAGS,
    int_of,
    show_product,
    training_launches,
    world_size,
)

CODE = "SAE202"
NAME = "dead-count-global-missing"
SEVERITY = "warning"  # an error when the run name or a comment claims dead-count-global
SUMMARY = "Multi-process training (or a run named dcg) without --dead-count-global"
GOTCHAS = (5, 22)
KIND = "shell"
EXAMPLE_PATH = "launch.sh"
LAUNCH = True

# --- what the generated pages say (docs/gotchas.md, troubleshooting.md, SKILL.md) ---
SKILL_ROW = (
    "multi-process training without `--dead-count-global` (an error when the run name says `dcg`)"
)
SYMPTOMS = (
    Symptom(
        "Training quality",
        "dead latents stay high on a multi-GPU run, even though the run is named `dcg`",
        "pass `--dead-count-global` whenever more than one process trains (rendered recipes do this by default: `DEAD_COUNT_GLOBAL=auto`; check it is not `0`)",
    ),
)
FACTS = {
    5: Fact(
        "Launch script (`launch.sh` and other orchestrators)",
        "`--dead-count-global` must be passed, not just named",
        """\
A run called `...dcg...` that does not pass the flag counts dead latents per rank, so AuxK revives
them world-size times too late. With one process the flag changes nothing.
Rules: **SAE202** (missing on a multi-process run), **SAE203** (no-op at one process).
""",
    ),
}

VALID = [
    "torchrun --nproc_per_node 4 train.py --dp-size 4 --dead-count-global\n",
    'NPROC="${NPROC:-1}"\nargs=(--cache-dir c)\nif (( NPROC > 1 )); then\n'
    "  args+=(--dead-count-global)\nfi\n"
    'torchrun --nproc_per_node "$NPROC" train.py --dp-size "$NPROC" "${args[@]}"\n',
    "python train.py --cache-dir c --run-name baseline\n",
    # a recipe pinned to an sae release without dead_count_global is not asked for it
    {
        "pyproject.toml": '[tool.recipegen]\nsae-features = ["normalize-input"]\n',
        "launch.sh": "torchrun --nproc_per_node 4 train.py --dp-size 4\n",
    },
]
INVALID = [
    Invalid("torchrun --nproc_per_node 4 train.py --dp-size 4\n", 1, "multi-process training"),
    Invalid("python train.py --cache-dir c --run-name evo2_l26_dcg\n", 1, "claims"),
    Invalid(
        "# dead-count-global run\ntorchrun --nproc_per_node 1 train.py --dp-size 1\n", 2, "claims"
    ),
    Invalid(
        'torchrun --nnodes "$NNODES" --nproc_per_node 1 train.py --dp-size "$NNODES"\n',
        1,
        "$NNODES",
    ),
    Invalid(
        {
            "run.py": "import subprocess\n"
            "def main(cfg):\n"
            '    subprocess.run(["torchrun", f"--nproc_per_node={cfg.nproc}", "train.py",\n'
            '                    "--dp-size", str(cfg.nproc)])\n'
        },
        3,
        "cfg.nproc",
        "run.py",
    ),
]

_CLAIM = compile_lazy(r"(?<![a-z])dcg(?![a-z])|dead[-_ ]count[-_ ]global", re.I)


def check(ctx):
    f = ctx.facts
    if not ctx.has("dead-count-global"):
        return
    for inv, _, flags in training_launches(ctx):
        if any(u.name == "--dead-count-global" for u in flags):
            continue
        claimed = any(_CLAIM.search(w.raw) or _CLAIM.search(w.text) for w in inv.args)
        first = inv.command.line - 2
        claimed = claimed or any(
            first <= c.line <= inv.command.end_line and _CLAIM.search(c.text) for c in f.comments
        )
        if claimed:
            yield ctx.finding(
                inv.line,
                "the run name or a comment claims dead-count-global but "
                "`--dead-count-global` is not passed; pass the flag",
                severity="error",
            )
            continue
        world = world_size(f, inv)
        labels = getattr(f, "labels", {})
        if world is not None and (world[1] or world[0] > 1):
            what = show_product(world, labels)
        else:
            dp = next((u.value for u in flags if u.name in DP_FLAGS), None)
            d, dvar = int_of(f, dp)
            if not ((d or 0) > 1 or dvar):
                continue
            what = f"--dp-size {dp.raw}"
        yield ctx.finding(
            inv.line,
            f"multi-process training ({what}) without `--dead-count-global`: AuxK revives "
            "latents world_size times too late; pass it when more than one process trains",
            severity="warning",
        )
