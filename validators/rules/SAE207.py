"""## What it does
Checks every flag a launch script passes against the argparse of the script it runs (resolved
relative to the launch file). `--no-X` forms of `BooleanOptionalAction` flags and unique
prefixes (argparse abbreviations) are accepted; scripts that use `parse_known_args` forward
unknown flags and are skipped.

## Why is this bad?
A typo is a crash hours into a GPU queue (argparse exits on unknown arguments) or, worse, an
unused flag forwarded silently.

## Example
```bash
torchrun --nproc_per_node 1 train.py --agregate-loss
```

## Use instead
```bash
torchrun --nproc_per_node 1 train.py --aggregate-loss
```
"""

from recipegen.validators.model import Fact, Invalid, Symptom
from recipegen.validators.rules._helpers import WIRED_TRAIN, bool_flags, flag_pos

CODE = "SAE207"
NAME = "unknown-flag"
SEVERITY = "error"
SUMMARY = "A launch passes a flag the target script's argparse does not define"
GOTCHAS = (10,)
KIND = "shell"
EXAMPLE_PATH = "launch.sh"

# --- what the generated pages say (docs/gotchas.md, troubleshooting.md, SKILL.md) ---
SKILL_ROW = "a launch passes a flag the target script does not define (a crash hours into a queue)"
SYMPTOMS = (
    Symptom(
        "Launch and environment",
        "`error: unrecognized arguments` hours into a queue",
        "fix the flag spelling (`--no-` forms only for boolean flags)",
    ),
)
FACTS = {
    10: Fact(
        "Launch script (`launch.sh` and other orchestrators)",
        "Every flag passed must exist, every required one must be passed",
        """\
A typo in a flag crashes hours into a queue. Rules: **SAE207** (unknown flag), **SAE208**
(required argument missing).
""",
    ),
}

VALID = [
    {
        "launch.sh": "python train.py --cache-dir c --aggregate-loss --no-normalize-input\n",
        "train.py": WIRED_TRAIN,
    },
    {
        "launch.sh": "python train.py --cache-dir c --whatever 3\n",
        "train.py": "import argparse\np = argparse.ArgumentParser()\np.add_argument('--cache-dir')\n"
        "a, rest = p.parse_known_args()\n",
    },
    {
        "launch.sh": "python sub/train.py --cache-dir c --lr-sched cosine\n",
        "sub/train.py": WIRED_TRAIN,
    },
]
INVALID = [
    Invalid(
        {"launch.sh": "python train.py --cache-dir c --agregate-loss\n", "train.py": WIRED_TRAIN},
        1,
        "did you mean `--aggregate-loss`",
    ),
    Invalid(
        {
            "launch.sh": 'HERE="$(dirname "$0")"\ntorchrun --nproc_per_node 1 "$HERE/train.py" \\\n'
            "  --cache-dir c --mix_shards 10\n",
            "train.py": WIRED_TRAIN,
        },
        3,
        "`--mix_shards` is not defined by $HERE/train.py",
    ),
]


def check(ctx):
    f = ctx.facts
    for inv in f.invocations:
        target = ctx.target(inv)
        if target is None or not target.flags or target.parse_known_args:
            continue
        options = set()
        for fl in target.flags:
            options.update(fl.options)
            if fl.boolean_optional:
                options.update("--no-" + o[2:] for o in fl.options if o.startswith("--"))
        options.update(("-h", "--help"))
        for u in inv.flags(bool_flags(target)):
            if u.name in options:
                continue
            if u.name.startswith("--") and sum(o.startswith(u.name) for o in options) == 1:
                continue
            import difflib  # only for a flag that is not defined

            close = difflib.get_close_matches(u.name, sorted(options), n=1)
            hint = f"; did you mean `{close[0]}`?" if close else ""
            yield ctx.finding_at(
                flag_pos(f, inv, u.name),
                f"`{u.name}` is not defined by {inv.script.raw}'s argparse{hint}",
            )
