"""## What it does
Checks that a training launch's `--dp-size` equals the number of processes
(`torchrun --nproc_per_node` x `--nnodes`): both literals must agree, or both must be the same
shell variable. Different variables (or a variable vs a literal) are reported because the
environment can change one without the other; a missing `--dp-size` under a multi-process
torchrun is reported too.

## Why is this bad?
`--dp-size 1` under `torchrun --nproc_per_node N` silently trains N independent SAEs; a dp-size
above the world size shards the data wrong and can hang.

## Example
```bash
torchrun --nproc_per_node "$NPROC" train.py --dp-size "$DP"
```

## Use instead
```bash
torchrun --nproc_per_node "$NPROC" train.py --dp-size "$NPROC"
```
"""

from recipegen.validators.rules._helpers import int_of, nproc_word, training_launches

CODE = "SAE205"
NAME = "dp-size-mismatch"
SEVERITY = "error"
SUMMARY = "--dp-size differs from --nproc_per_node x --nnodes"
GOTCHAS = (6,)
KIND = "shell"
EXAMPLE_PATH = "launch.sh"

VALID = [
    'NPROC="${NPROC:-1}"\ntorchrun --nproc_per_node "$NPROC" train.py --dp-size "$NPROC"\n',
    "torchrun --nnodes 2 --nproc_per_node 4 train.py --dp-size 8 --dead-count-global\n",
    "NPROC=2\ntorchrun --nproc_per_node $NPROC train.py --dp-size 2 --dead-count-global\n",
]
INVALID = [
    "torchrun --nproc_per_node 4 train.py --dp-size 1\n",
    'torchrun --nproc_per_node "$NPROC" train.py --dp-size "$DP"\n',
    "torchrun --nproc_per_node 4 train.py --cache-dir c\n",
    "python train.py --dp-size 4\n",
]


def check(ctx):
    f = ctx.facts
    for inv, target, flags in training_launches(ctx):
        dp = next((u.value for u in flags if u.name == "--dp-size"), None)
        d, dvar = int_of(f, dp)
        if inv.program != "torchrun":
            if d is not None and d > 1 and not dvar:
                yield ctx.finding(
                    inv.line,
                    f"`--dp-size {d}` but a single `python` process; "
                    "launch with torchrun --nproc_per_node {d}",
                )
            continue
        nw = nproc_word(inv)
        n, nvar = int_of(f, nw) if nw is not None else (1, False)
        nnw = inv.launcher_opts.get("--nnodes")
        nn, nnvar = int_of(f, nnw) if nnw is not None else (1, False)
        if dp is None:
            defines = target is None or target.flag("--dp-size") is not None
            if defines and ((n or 0) * (nn or 1) > 1 or nvar or nnvar):
                yield ctx.finding(
                    inv.line,
                    "multi-process torchrun without `--dp-size`: every "
                    "rank trains its own SAE; pass `--dp-size` equal to the world size",
                )
            continue
        if "$((" in dp.raw or (nnvar and nnw is not None):
            continue
        if not nvar and not dvar and n is not None and d is not None:
            if d != n * (nn or 1):
                yield ctx.finding(
                    inv.line,
                    f"`--dp-size {d}` but torchrun starts {n * (nn or 1)} "
                    "processes; make them equal",
                )
            continue
        vn = f.variable_of(nw) if nw is not None else None
        if vn is not None and vn == f.variable_of(dp) and (nn or 1) == 1:
            continue
        yield ctx.finding(
            inv.line,
            f"`--dp-size {dp.raw}` and `--nproc_per_node "
            f"{nw.raw if nw else 1}` can differ; use the same variable for both",
        )
