"""## What it does
Checks that a training script which hands our runtime's latent-survival settings to
`TrainingConfig` (`project_decoder_grad`, `dead_tokens_fraction`, or the flags
`--project-decoder-grad` / `--dead-tokens-fraction`) also hands it `unit_norm_latents` (or
defines `--unit-norm-latents`, whose wiring SAE105 checks). Keywords are read from the call, from
`**` dicts and `dict(...)` calls, and from the keywords of a same-file helper whose result is
passed with `**`; a `**` argument whose keys cannot be read is given the benefit of the doubt.
Scripts written for the shared library pass none of these settings and are not judged.

## Why is this bad?
`unit_norm_latents` is the setting that keeps latents alive; the others only help on top of it.
The decoder gradient projection alone trained worse than the library defaults (FVU 0.783 against
0.755, 68% of latents dead on a synthetic set at 102k tokens), and a script that kept the
projection but lost unit-norm latents in an edit still looks tuned.

## Example
```python
config = TrainingConfig(lr=args.lr, project_decoder_grad=args.project_decoder_grad)
```

## Use instead
```python
config = TrainingConfig(lr=args.lr, unit_norm_latents=args.unit_norm_latents,
                        project_decoder_grad=args.project_decoder_grad)
```
"""

import ast

from recipegen.validators.model import Invalid, Symptom
from recipegen.validators.rules.SAE105 import SURVIVAL_TRAIN

CODE = "SAE106"
NAME = "survival-without-unit-norm"
SEVERITY = "error"
SUMMARY = "Survival settings reach `TrainingConfig` without `unit_norm_latents`"
GOTCHAS = ()
KIND = "python"
EXAMPLE_PATH = "train.py"

# --- what the generated pages say (docs/gotchas.md, troubleshooting.md, SKILL.md) ---
SKILL_ROW = "`TrainingConfig` gets `project_decoder_grad` or `dead_tokens_fraction` but not `unit_norm_latents`: the projection alone trains worse than the defaults"
SYMPTOMS = (
    Symptom(
        "Training quality",
        "FVU worse than the library defaults after turning on `--project-decoder-grad` or `--dead-tokens-fraction`",
        "pass `unit_norm_latents=True` together with them (`--unit-norm-latents`)",
    ),
)

# settings only our runtime has; unit_norm_latents is the one the others need
COMPANIONS = {"project_decoder_grad": "--project-decoder-grad",
              "dead_tokens_fraction": "--dead-tokens-fraction"}  # fmt: skip
MAIN = ("unit_norm_latents", "--unit-norm-latents")

_NO_UNIT_NORM = SURVIVAL_TRAIN.replace(
    '    p.add_argument("--unit-norm-latents", action=argparse.BooleanOptionalAction, '
    "default=True)\n",
    "",
).replace("runtime_has(TrainingConfig, unit_norm_latents=args.unit_norm_latents,",
          "runtime_has(TrainingConfig,")  # fmt: skip

VALID = [
    SURVIVAL_TRAIN,
    # unit-norm latents on by a literal, the projection by a flag
    _NO_UNIT_NORM.replace("runtime_has(TrainingConfig,", "runtime_has(TrainingConfig, unit_norm_latents=True,"),
    # keys this rule cannot read: not judged
    _NO_UNIT_NORM.replace("max_steps=args.max_steps, **extra)", "max_steps=args.max_steps, **load_extra())"),
    # a shared-library script: none of the survival settings
    SURVIVAL_TRAIN.split("def parse_args")[0]
    + "def main(args):\n    return TrainingConfig(lr=args.lr, lr_scale_with_latents=True)\n",
]  # fmt: skip
INVALID = [
    Invalid(_NO_UNIT_NORM, 50, "without `unit_norm_latents`"),
    Invalid(
        "import argparse\nfrom sae.training import TrainingConfig\n"
        "p = argparse.ArgumentParser()\np.add_argument('--lr', type=float)\na = p.parse_args()\n"
        "cfg = TrainingConfig(lr=a.lr, project_decoder_grad=True)\n",
        6,
        "`project_decoder_grad` reaches `TrainingConfig` without `unit_norm_latents`",
    ),
]


def _keys(f, site) -> set[str] | None:
    """Keywords a TrainingConfig call passes, or None when a `**` argument cannot be read."""
    keys = {k.arg for k in site.node.keywords if k.arg is not None}
    for star in site.star_kwargs():
        vals = f.values_of(star, site.scope)
        for v in vals:
            if isinstance(v, ast.Dict) and all(isinstance(k, ast.Constant) for k in v.keys):
                keys |= {k.value for k in v.keys}
            elif (
                isinstance(v, ast.Call)
                and isinstance(v.func, ast.Name)
                and v.keywords
                and all(k.arg is not None for k in v.keywords)
            ):  # dict(a=...) or a same-file helper taking the settings as keywords
                keys |= {k.arg for k in v.keywords}
            else:
                return None
    return keys


def check(ctx):
    f = ctx.facts
    if not f.is_training_script:
        return
    kw, opt = MAIN
    if f.flag(opt) is not None:
        return  # defined: SAE105 checks that it is passed
    for site in f.called("TrainingConfig"):
        keys = _keys(f, site)
        if keys is None or kw in keys:
            continue
        given = [k for k, flag in COMPANIONS.items() if k in keys or f.flag(flag) is not None]
        if given:
            yield ctx.finding(
                site.line,
                f"`{given[0]}` reaches `TrainingConfig` without `unit_norm_latents`: without "
                "unit-norm latents most latents still die and the projection trains worse than "
                "the defaults; define `--unit-norm-latents` and pass "
                "`unit_norm_latents=args.unit_norm_latents`",
            )
