"""## What it does
Reports `--presample-shards N` with N > 1 (or a variable) when the pre-bias init is off: neither
`--init-pre-bias` passed nor defaulted on by the target script, or `--no-init-pre-bias` passed.

## Why is this bad?
Presampling only feeds the geometric-median pre-bias init; without `--init-pre-bias` it does
nothing and the run is not the one its name says.

## Example
```bash
python train.py --cache-dir c --mix-shards 10 --presample-shards 8
```

## Use instead
```bash
python train.py --cache-dir c --mix-shards 10 --presample-shards 8 --init-pre-bias
```
"""

from recipegen.validators.model import Fact, Invalid, Symptom
from recipegen.validators.rules._helpers import WIRED_TRAIN, bool_flags, flag_pos, int_of

CODE = "SAE204"
NAME = "presample-without-init-pre-bias"
SEVERITY = "warning"
SUMMARY = "--presample-shards > 1 without --init-pre-bias does nothing"
GOTCHAS = (3,)
KIND = "shell"
EXAMPLE_PATH = "launch.sh"
LAUNCH = True

# --- what the generated pages say (docs/gotchas.md, troubleshooting.md, SKILL.md) ---
SKILL_ROW = "`--presample-shards N` without `--init-pre-bias` does nothing"
SYMPTOMS = (
    Symptom(
        "Training quality",
        "presample changes nothing; dead latents high on a corpus-ordered cache",
        "add `--init-pre-bias` next to `--presample-shards N`",
    ),
)
FACTS = {
    3: Fact(
        "Training script (`train.py`)",
        "Pre-bias sampling needs the pre-bias",
        """\
`--presample-shards N` only matters with `--init-pre-bias`. Sampling the pre-bias from shard 0
alone is biased when the cache is ordered by corpus (all prokaryotes first, then eukaryotes) and
costs dead latents; on a cache whose shards are already shuffled, 1 and 1 are right.
Rule: **SAE204**.
""",
    ),
}

VALID = [
    "python train.py --cache-dir c --presample-shards 8 --init-pre-bias\n",
    {"launch.sh": "python train.py --cache-dir c --presample-shards 8\n", "train.py": WIRED_TRAIN},
    "python train.py --cache-dir c --mix-shards 1 --presample-shards 1\n",
    # the target has no --init-pre-bias switch: it decides for itself
    {
        "launch.sh": "python train.py --cache-dir c --presample-shards 8\n",
        "train.py": WIRED_TRAIN.replace(
            '    p.add_argument("--init-pre-bias", action=argparse.BooleanOptionalAction, '
            "default=True)\n",
            "",
        ),
    },
]
INVALID = [
    Invalid("python train.py --cache-dir c --presample-shards 8\n", 1, "--init-pre-bias"),
    Invalid(
        {
            "launch.sh": "python train.py --cache-dir c --presample-shards 8 --no-init-pre-bias\n",
            "train.py": WIRED_TRAIN,
        },
        1,
        "does nothing",
    ),
]


def check(ctx):
    f = ctx.facts
    if not ctx.has("presample-shards"):
        return
    for inv in f.invocations:
        if inv.script is None:
            continue
        target = ctx.target(inv)
        flags = {u.name: u for u in inv.flags(bool_flags(target))}
        ps = flags.get("--presample-shards")
        if ps is None:
            continue
        n, var = int_of(f, ps.value)
        if not ((n or 0) > 1 or var):
            continue
        if "--init-pre-bias" in flags:
            continue
        if "--no-init-pre-bias" not in flags and target is not None:
            tf = target.flag("--init-pre-bias")
            if tf is None or tf.default is True:
                continue
        yield ctx.finding_at(
            flag_pos(f, inv, "--presample-shards"),
            "`--presample-shards` > 1 without `--init-pre-bias` does nothing; "
            "pass `--init-pre-bias`",
        )
