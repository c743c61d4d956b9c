"""## What it does
Reports a training launch that uses the cosine schedule (`--lr-schedule cosine`, or the script's
default) together with `--max-steps` or `--lr-decay-steps`. The schedule is resolved through
variables, `${X:-default}` chains included (`LR_SCHEDULE="${LR_SCHEDULE:-$D_LR_SCHEDULE}"`); a value
the script cannot resolve means the target script's default. A torchrun argv a Python driver
assembles is checked too.

## Why is this bad?
The cosine horizon must span the whole run. Capping steps shrinks it: the LR collapses to
`lr_min` early and FVU plateaus high, hours into the queue.

## Example
```bash
torchrun --nproc_per_node 1 train.py --lr-schedule cosine --max-steps 20000
```

## Use instead
```bash
torchrun --nproc_per_node 1 train.py --lr-schedule cosine --n-epochs 1
```
"""

from recipegen.validators.model import Invalid, Symptom
from recipegen.validators.rules._helpers import WIRED_TRAIN, bool_flags, flag_pos, script_name

CODE = "SAE201"
NAME = "cosine-truncated"
SEVERITY = "error"
SUMMARY = "Cosine LR schedule combined with --max-steps or --lr-decay-steps"
GOTCHAS = (2,)
KIND = "shell"
EXAMPLE_PATH = "launch.sh"
LAUNCH = True

# --- what the generated pages say (docs/gotchas.md, troubleshooting.md, SKILL.md) ---
SKILL_ROW = "`--lr-schedule cosine` with `--max-steps` or `--lr-decay-steps`: LR collapses early, FVU plateaus high"
SYMPTOMS = (
    Symptom(
        "Training quality",
        "FVU plateaus high, LR at `lr_min` long before the end",
        "drop `--max-steps` / `--lr-decay-steps` from a cosine launch",
    ),
)

_RENDERED = (
    "D_LR_SCHEDULE=cosine\n"
    'LR_SCHEDULE="${LR_SCHEDULE:-$D_LR_SCHEDULE}"\n'
    "torchrun --standalone --nproc_per_node 1 train.py --cache-dir c \\\n"
    '  --lr-schedule "$LR_SCHEDULE" \\\n'
)

VALID = [
    "python train.py --cache-dir c --lr-schedule cosine\n",
    "python train.py --cache-dir c --lr-schedule constant --max-steps 100\n",
    _RENDERED + "  --n-epochs 1\n",
    # the schedule is a variable the script cannot resolve, and the target defaults to constant
    {
        "launch.sh": 'python train.py --cache-dir c --lr-schedule "$SCHED" --max-steps 10\n',
        "train.py": WIRED_TRAIN.replace('default="cosine"', 'default="constant"'),
    },
]
INVALID = [
    Invalid(
        "python train.py --cache-dir c --lr-schedule cosine --max-steps 20000\n", 1, "--max-steps"
    ),
    Invalid(
        {
            "launch.sh": "python train.py --cache-dir c --lr-decay-steps 5000\n",
            "train.py": WIRED_TRAIN,
        },
        1,
        "train.py's default",
    ),
    Invalid(_RENDERED + "  --max-steps 1000\n", 5, "`--max-steps` truncates"),
    Invalid(
        {
            "launch.sh": 'python train.py --cache-dir c --lr-schedule "$SCHED" --max-steps 10\n',
            "train.py": WIRED_TRAIN,
        },
        1,
        "train.py's default",
    ),
    Invalid(
        {
            "sweep.py": "import subprocess\n"
            'argv = ["torchrun", "--nproc_per_node", "1", "train.py", "--lr-schedule", "cosine"]\n'
            'argv += ["--max-steps", "20000"]\n'
            "subprocess.run(argv)\n"
        },
        3,
        "--max-steps",
        "sweep.py",
    ),
]


def check(ctx):
    f = ctx.facts
    for inv in f.invocations:
        if inv.script is None:
            continue
        target = ctx.target(inv)
        flags = {u.name: u for u in inv.flags(bool_flags(target))}
        sched = flags.get("--lr-schedule")
        tf = target.flag("--lr-schedule") if target is not None else None
        origin = ""
        if sched is not None and sched.value is not None and sched.value.value is not None:
            cosine = sched.value.value == "cosine"
        elif sched is not None and sched.value is None:
            continue
        else:  # not passed, or a value the script cannot resolve: the target's default decides
            cosine = tf is not None and tf.default == "cosine"
            origin = f" (cosine is {script_name(inv)}'s default)"
        if not cosine:
            continue
        for cap in ("--max-steps", "--lr-decay-steps"):
            if cap in flags:
                yield ctx.finding_at(
                    flag_pos(f, inv, cap),
                    f"cosine schedule with `{cap}` truncates the horizon{origin}; "
                    "drop it and let epochs x batches set the horizon",
                )
