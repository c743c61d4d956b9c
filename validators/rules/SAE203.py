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

from recipegen.validators.rules._helpers import int_of, nproc_word, training_launches

CODE = "SAE203"
NAME = "dead-count-global-noop"
SEVERITY = "warning"
SUMMARY = "--dead-count-global on a single-process run is a no-op"
GOTCHAS = (5,)
KIND = "shell"
EXAMPLE_PATH = "launch.sh"

VALID = [
    "torchrun --nproc_per_node 2 train.py --dp-size 2 --dead-count-global\n",
    'torchrun --nproc_per_node "$NPROC" train.py --dp-size "$NPROC" --dead-count-global\n',
]
INVALID = [
    "python train.py --cache-dir c --dead-count-global\n",
    "torchrun --nproc_per_node 1 train.py --dp-size 1 --dead-count-global\n",
]


def check(ctx):
    f = ctx.facts
    for inv, _, flags in training_launches(ctx):
        dcg = next((u for u in flags if u.name == "--dead-count-global"), None)
        if dcg is None or dcg.conditional:
            continue
        if inv.program == "torchrun":
            w = nproc_word(inv)
            n, nvar = int_of(f, w) if w is not None else (1, False)
        else:
            n, nvar = 1, False
        dp = next((u.value for u in flags if u.name == "--dp-size"), None)
        d, dvar = int_of(f, dp) if dp is not None else (1, False)
        if n == 1 and not nvar and (d or 1) == 1 and not dvar:
            yield ctx.finding(
                inv.line,
                "`--dead-count-global` on a single-process run is a "
                "no-op; run with --nproc_per_node > 1 or drop it",
            )
