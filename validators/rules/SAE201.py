"""## What it does
Reports a training launch that uses the cosine schedule (`--lr-schedule cosine`, or the script's
default) together with `--max-steps` or `--lr-decay-steps`.

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

from recipegen.validators.rules._helpers import WIRED_TRAIN, bool_flags, flag_pos

CODE = "SAE201"
NAME = "cosine-truncated"
SEVERITY = "error"
SUMMARY = "Cosine LR schedule combined with --max-steps or --lr-decay-steps"
GOTCHAS = (2,)
KIND = "shell"
EXAMPLE_PATH = "launch.sh"

VALID = [
    "python train.py --cache-dir c --lr-schedule cosine\n",
    "python train.py --cache-dir c --lr-schedule constant --max-steps 100\n",
]
INVALID = [
    "python train.py --cache-dir c --lr-schedule cosine --max-steps 20000\n",
    {"launch.sh": "python train.py --cache-dir c --lr-decay-steps 5000\n", "train.py": WIRED_TRAIN},
]


def check(ctx):
    f = ctx.facts
    for inv in f.invocations:
        if inv.script is None:
            continue
        target = ctx.target(inv)
        flags = {u.name: u for u in inv.flags(bool_flags(target))}
        sched = flags.get("--lr-schedule")
        if sched is not None:
            cosine = sched.value is not None and sched.value.text == "cosine"
        else:
            tf = target.flag("--lr-schedule") if target is not None else None
            cosine = tf is not None and tf.default == "cosine"
        if not cosine:
            continue
        for cap in ("--max-steps", "--lr-decay-steps"):
            if cap in flags:
                yield ctx.finding_at(
                    flag_pos(f, inv, cap),
                    f"cosine schedule with `{cap}` truncates the horizon (LR hits lr_min early); "
                    "drop it and let epochs x batches set the horizon",
                )
