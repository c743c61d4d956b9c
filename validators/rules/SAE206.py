"""## What it does
Checks wandb hygiene in launch scripts: a run that enables `--wandb` must `unset WANDB_API_KEY`
and set an entity (`export WANDB_ENTITY=...` or `--wandb-entity`); wandb must not be switched on
*because* `WANDB_API_KEY` happens to be set (reported once per such `if`, on the line that
switches it on). Only `--wandb` itself enables it: `--wandb-run-name` and friends do not.

## Why is this bad?
A leaked `WANDB_API_KEY` in a shared environment overrides `~/.netrc`, so runs log under someone
else's account; accounts without a default entity fail `wandb.init` after the job has queued.

## Example
```bash
if [[ -n "${WANDB_API_KEY:-}" ]]; then args+=(--wandb); fi
```

## Use instead
```bash
if [[ "${WANDB:-0}" == 1 ]]; then
  unset WANDB_API_KEY
  export WANDB_ENTITY="${WANDB_ENTITY:?set WANDB_ENTITY}"
  args+=(--wandb)
fi
```
"""

from recipegen.validators.lazy_re import compile_lazy
from recipegen.validators.model import Fact, Invalid, Symptom
from recipegen.validators.rules._helpers import bool_flags, flag_line

CODE = "SAE206"
NAME = "wandb-env"
SEVERITY = "error"
SUMMARY = "--wandb without unset WANDB_API_KEY and WANDB_ENTITY, or enabled by the key"
GOTCHAS = (7,)
KIND = "shell"
EXAMPLE_PATH = "launch.sh"

# --- what the generated pages say (docs/gotchas.md, troubleshooting.md, SKILL.md) ---
SKILL_ROW = "`--wandb` without `unset WANDB_API_KEY` and a `WANDB_ENTITY`"
SYMPTOMS = (
    Symptom(
        "Launch and environment",
        "runs log under someone else's wandb account, or `wandb.init` fails on entity",
        "`unset WANDB_API_KEY` and `export WANDB_ENTITY=...` before `--wandb`; never enable wandb just because the key is set",
    ),
)
FACTS = {
    7: Fact(
        "Launch script (`launch.sh` and other orchestrators)",
        "wandb hygiene",
        """\
A `WANDB_API_KEY` left in a shared environment beats `~/.netrc`, so runs land in someone else's
account; an account without a default entity fails at `wandb.init`. Unset the key and export
`WANDB_ENTITY` wherever `--wandb` is on. Rule: **SAE206**.
""",
    ),
}

VALID = [
    "unset WANDB_API_KEY\nexport WANDB_ENTITY=team\npython train.py --cache-dir c --wandb\n",
    "unset WANDB_API_KEY\npython train.py --cache-dir c --wandb --wandb-entity team\n",
    "python train.py --cache-dir c --no-wandb\n",
    # only a run name: wandb is not switched on here
    "python train.py --cache-dir c \\\n  --wandb-run-name r1\n",
]
INVALID = [
    Invalid("python train.py --cache-dir c --wandb\n", 1, "unset WANDB_API_KEY"),
    Invalid("export WANDB_ENTITY=team\npython train.py --cache-dir c --wandb\n", 2, "unset"),
    Invalid(
        'unset WANDB_API_KEY\nexport WANDB_ENTITY=t\nargs=()\nif [[ -n "${WANDB_API_KEY:-}" ]]; then\n'
        "  args+=(--wandb)\n  args+=(--wandb-run-name r1)\nfi\n"
        'python train.py "${args[@]}"\n',
        5,
        "because WANDB_API_KEY is set",
    ),
    Invalid(
        "unset WANDB_API_KEY\npython train.py --cache-dir c \\\n  --wandb \\\n"
        "  --wandb-run-name r1\n",
        3,
        "without an entity",
    ),
]

_ENABLES = compile_lazy(
    r"(?<![\w-])--(?:use[-_])?wandb(?:=\S*)?(?![\w-])|\bWANDB(?:_MODE)?=(?:1|online|true)\b"
)


def check(ctx):
    f = ctx.facts
    reported_ifs = set()
    for line, conds, text in f.if_effects:
        key = tuple(c for c in conds if "WANDB_API_KEY" in c)
        if key and key not in reported_ifs and _ENABLES.search(text.replace("WANDB_API_KEY", "")):
            reported_ifs.add(key)
            yield ctx.finding(
                line,
                "wandb is enabled because WANDB_API_KEY is set; enable it "
                "explicitly (WANDB=1) and unset the key",
            )
    for inv in f.invocations:
        flags = {u.name: u for u in inv.flags(bool_flags(ctx.target(inv)))}
        if "--wandb" not in flags:
            continue
        line = flag_line(f, inv, "--wandb")
        if "WANDB_API_KEY" not in f.unsets:
            yield ctx.finding(
                line,
                "`--wandb` without `unset WANDB_API_KEY`: a leaked key logs "
                "under someone else's account; unset it and rely on ~/.netrc",
            )
        if "WANDB_ENTITY" not in f.exports and "--wandb-entity" not in flags:
            yield ctx.finding(
                line,
                "`--wandb` without an entity; `export WANDB_ENTITY=...` or pass `--wandb-entity`",
            )
