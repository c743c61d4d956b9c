"""## What it does
Checks that a launch passes every `required=True` argument of the script it runs.

## Why is this bad?
argparse exits at start-up on a missing required argument; in a queued job that is hours lost,
and in a sweep every config fails the same way.

## Example
```bash
python train.py --lr 1e-4          # train.py requires --cache-dir
```

## Use instead
```bash
python train.py --cache-dir "$CACHE" --lr 1e-4
```
"""

from recipegen.validators.model import Invalid, Symptom
from recipegen.validators.rules._helpers import WIRED_TRAIN, bool_flags

CODE = "SAE208"
NAME = "missing-required-arg"
SEVERITY = "error"
SUMMARY = "A launch omits a required argument of the target script"
GOTCHAS = (10,)
KIND = "shell"
EXAMPLE_PATH = "launch.sh"

# --- what the generated pages say (docs/gotchas.md, troubleshooting.md, SKILL.md) ---
SKILL_ROW = "a launch omits a required argument of the target script"
SYMPTOMS = (
    Symptom(
        "Launch and environment",
        "`error: the following arguments are required`",
        "pass the required argument (`train.py` needs `--cache-dir`)",
    ),
)

VALID = [
    {"launch.sh": "python train.py --cache-dir c\n", "train.py": WIRED_TRAIN},
    {"launch.sh": 'python train.py "$@"\n', "train.py": WIRED_TRAIN},
]
INVALID = [
    Invalid(
        {"launch.sh": "python train.py --aggregate-loss\n", "train.py": WIRED_TRAIN},
        1,
        "requires `--cache-dir`",
    ),
]


def check(ctx):
    for inv in ctx.facts.invocations:
        target = ctx.target(inv)
        if target is None or inv.opaque:
            continue
        passed = {u.name for u in inv.flags(bool_flags(target))}
        for fl in target.flags:
            if fl.required and not any(
                o in passed
                or any(p.startswith("--") and o.startswith(p) and len(p) > 2 for p in passed)
                for o in fl.options
            ):
                yield ctx.finding(inv.line, f"{inv.script.raw} requires `{fl.options[0]}`; pass it")
