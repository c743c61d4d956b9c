"""## What it does
Reports background `torchrun`s (`... &`, or one started in a loop) that do not use distinct
`--master-port`s (or `--standalone`).

## Why is this bad?
Parallel runs on one host bind the same rendezvous port (29500 by default): the second one
fails or, worse, joins the first job's group. They also contend on the same parquet cache; run
sweeps one config at a time per GPU group.

## Example
```bash
torchrun --nproc_per_node 1 train.py --top-k 32 &
torchrun --nproc_per_node 1 train.py --top-k 64 &
wait
```

## Use instead
```bash
torchrun --master-port 29501 --nproc_per_node 1 train.py --top-k 32 &
torchrun --master-port 29502 --nproc_per_node 1 train.py --top-k 64 &
wait
```
"""

from recipegen.validators.model import Fact, Invalid, Symptom

CODE = "SAE212"
NAME = "parallel-runs-same-port"
SEVERITY = "error"
SUMMARY = "Background torchrun runs without distinct --master-port"
GOTCHAS = (9,)
KIND = "shell"
EXAMPLE_PATH = "launch.sh"

# --- what the generated pages say (docs/gotchas.md, troubleshooting.md, SKILL.md) ---
SKILL_ROW = "background `torchrun`s without distinct `--master-port`s"
SYMPTOMS = (
    Symptom(
        "Launch and environment",
        "`EADDRINUSE` / a hung rendezvous when two runs start together",
        "give each background `torchrun` its own `--master-port`, or run sweeps one at a time",
    ),
)
FACTS = {
    9: Fact(
        "Launch script (`launch.sh` and other orchestrators)",
        "Sweeps",
        """\
Run one configuration at a time per GPU group; concurrent `torchrun`s contend for the same cache
and need distinct `--master-port`s. Rule: **SAE212**.
""",
    ),
}

VALID = [
    "torchrun --master-port 29501 train.py --top-k 32 &\n"
    "torchrun --master-port 29502 train.py --top-k 64 &\nwait\n",
    "for k in 32 64; do\n  torchrun --nproc_per_node 1 train.py --top-k $k\ndone\n",
    "for i in 1 2; do\n  torchrun --master-port $((29500 + i)) train.py &\ndone\nwait\n",
]
INVALID = [
    Invalid(
        "torchrun train.py --top-k 32 &\ntorchrun train.py --top-k 64 &\nwait\n",
        2,
        "reuses master port 29500 (line 1)",
    ),
    Invalid(
        "for k in 32 64; do\n  torchrun --nproc_per_node 1 train.py --top-k $k &\ndone\nwait\n",
        2,
        "inside a loop with one port",
    ),
]


def _port(inv):
    for key in ("--master-port", "--rdzv-endpoint"):
        w = inv.launcher_opts.get(key)
        if w is not None:
            return w.raw
    return "29500"


def check(ctx):
    bg = [
        i
        for i in ctx.facts.invocations
        if i.program == "torchrun"
        and i.command.background
        and "--standalone" not in i.launcher_opts
    ]
    seen: dict[str, int] = {}
    for inv in bg:
        port = _port(inv)
        loops = inv.command.loop_vars
        if loops and not any(v in port for v in loops) and "$((" not in port:
            yield ctx.finding(
                inv.line,
                "torchrun started in the background inside a loop with "
                "one port; give each run its own `--master-port`",
            )
            continue
        if port in seen:
            yield ctx.finding(
                inv.line,
                f"background torchrun reuses master port {port} "
                f"(line {seen[port]}); pass a distinct `--master-port`",
            )
        else:
            seen[port] = inv.line
