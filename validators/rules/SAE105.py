"""## What it does
Checks that each latent-survival flag a training script defines reaches `TrainingConfig`:
`--unit-norm-latents`, `--project-decoder-grad`, `--dead-tokens-fraction`,
`--lr-scale-with-latents` and `--lr-reference-hidden-dim` must each end up as the
`TrainingConfig` keyword of the same name. Flow through local variables, `**kwargs` dicts and
helper functions in the same file is followed, so the pattern that also runs on the shared
library (keep only the fields `dataclasses.fields(TrainingConfig)` has) passes. When
`TrainingConfig` is built in a module of the recipe that the script imports, the script is not
judged.

## Why is this bad?
These settings decide whether latents survive training. Without unit-norm latents, about three
quarters of a TopK SAE's latents die on a synthetic set where every latent is needed (FVU 0.645
against 0.583 at equal tokens). A flag that is parsed and then dropped makes the launch script
look right while the run trains the baseline.

## Example
```python
p.add_argument("--unit-norm-latents", action=argparse.BooleanOptionalAction, default=True)
...
config = TrainingConfig(lr=args.lr)
```

## Use instead
```python
def runtime_has(config_cls, **settings):  # the shared library lacks these fields
    have = {f.name for f in dataclasses.fields(config_cls)}
    return {k: v for k, v in settings.items() if k in have}

config = TrainingConfig(lr=args.lr, **runtime_has(TrainingConfig, unit_norm_latents=args.unit_norm_latents))
```
"""

from recipegen.validators.model import Fact, Invalid, Symptom
from recipegen.validators.rules._helpers import WIRED_TRAIN
from recipegen.validators.sae_api import SURVIVAL

CODE = "SAE105"
NAME = "survival-flag-not-wired"
SEVERITY = "error"
SUMMARY = "A latent-survival flag is defined but `args.<dest>` never reaches `TrainingConfig`"
GOTCHAS = ()  # fact 25 below is ours (not in the shared notes)
KIND = "python"
EXAMPLE_PATH = "train.py"

# --- what the generated pages say (docs/gotchas.md, troubleshooting.md, SKILL.md) ---
SKILL_ROW = "`--unit-norm-latents`, `--project-decoder-grad`, `--dead-tokens-fraction` or `--lr-scale-with-latents` is defined but never reaches `TrainingConfig(...)`: most latents die while the launch looks right"
SYMPTOMS = (
    Symptom(
        "Training quality",
        "most latents dead (70-80%) and FVU well above a peer library's at the same tokens, though the flags are set",
        "pass each survival flag into `TrainingConfig(...)` (or re-render `train.py`); see docs/training-quality.md",
    ),
)
FACTS = {
    25: Fact(
        "Training script (`train.py`)",
        "Latents survive only with unit-norm decoder directions",
        """\
The shared library keeps the decoder weight `[input_dim, latents]` at unit norm along the
latents, so each latent's own direction has a free norm: Adam shrinks the ones that lose early and
they never fire again. On a synthetic set with 2048 true directions (n=2048, k=16, 270k tokens)
that left 79% of the latents dead (FVU 0.645); with each latent's direction kept at unit norm
(`TrainingConfig(unit_norm_latents=True)`) plus the decoder gradient projection
(`project_decoder_grad`), a geometric-median pre-bias, AuxK with a dead threshold that fits the
run (`dead_tokens_fraction`) and sparsify's LR rule (`lr_scale_with_latents`,
`lr_reference_hidden_dim=16384`), none died and FVU reached 0.583 (sparsify: 0.584). Over the
full 897k tokens two more settings took FVU from 0.414 (4% dead) to 0.283 (0% dead; sparsify at
the same LR: 0.302): a loss whose variance denominator carries no gradient
(`detach_loss_variance`) and sparsify's encoder init (`encoder_init="uniform"`). Our runtime
has these settings; the shared library does not, so a script passes each one only where
`dataclasses.fields(TrainingConfig)` has it. Rules: **SAE105** (flag defined, not passed),
**SAE106** (survival settings passed without `unit_norm_latents`).
""",
    ),
}

SURVIVAL_TRAIN = (
    WIRED_TRAIN.replace("import argparse\n", "import argparse\nimport dataclasses\n")
    .replace(
        "def build_model(args, dim):\n",
        "def runtime_has(config_cls, **settings):\n"
        "    have = {f.name for f in dataclasses.fields(config_cls)}\n"
        "    return {k: v for k, v in settings.items() if k in have}\n\n\n"
        "def build_model(args, dim):\n",
    )
    .replace(
        '    p.add_argument("--mix-shards", type=int, default=1)\n',
        '    p.add_argument("--mix-shards", type=int, default=1)\n'
        '    p.add_argument("--unit-norm-latents", action=argparse.BooleanOptionalAction, '
        "default=True)\n"
        '    p.add_argument("--project-decoder-grad", action=argparse.BooleanOptionalAction, '
        "default=True)\n"
        '    p.add_argument("--dead-tokens-fraction", type=float, default=0.05)\n',
    )
    .replace(
        "    config = TrainingConfig(lr_schedule=args.lr_schedule, lr_decay_steps=args.lr_decay_steps,\n"
        "                            max_steps=args.max_steps)\n",
        "    extra = runtime_has(TrainingConfig, unit_norm_latents=args.unit_norm_latents,\n"
        "                        project_decoder_grad=args.project_decoder_grad,\n"
        "                        dead_tokens_fraction=args.dead_tokens_fraction)\n"
        "    config = TrainingConfig(lr_schedule=args.lr_schedule, lr_decay_steps=args.lr_decay_steps,\n"
        "                            max_steps=args.max_steps, **extra)\n",
    )
)

VALID = [
    SURVIVAL_TRAIN,
    # passed by keyword (a script for our runtime only)
    SURVIVAL_TRAIN.replace(
        "    extra = runtime_has(TrainingConfig, unit_norm_latents=args.unit_norm_latents,\n"
        "                        project_decoder_grad=args.project_decoder_grad,\n"
        "                        dead_tokens_fraction=args.dead_tokens_fraction)\n",
        "",
    ).replace(
        "max_steps=args.max_steps, **extra)",
        "max_steps=args.max_steps, unit_norm_latents=args.unit_norm_latents,\n"
        "                            project_decoder_grad=args.project_decoder_grad,\n"
        "                            dead_tokens_fraction=args.dead_tokens_fraction)",
    ),
    # a script for the shared library: no survival flag, nothing to wire
    WIRED_TRAIN,
]
INVALID = [
    Invalid(
        SURVIVAL_TRAIN.replace(
            "runtime_has(TrainingConfig, unit_norm_latents=args.unit_norm_latents,",
            "runtime_has(TrainingConfig,",
        ),
        16,
        "`args.unit_norm_latents` never reaches `TrainingConfig(unit_norm_latents=...)`",
    ),
    Invalid(
        SURVIVAL_TRAIN.replace(
            "dead_tokens_fraction=args.dead_tokens_fraction)", "dead_tokens_fraction=0.05)"
        ),
        18,
        "`--dead-tokens-fraction` is defined but",
    ),
]


def check(ctx):
    f = ctx.facts
    if not f.is_training_script:
        return
    if not f.called("TrainingConfig") and any(f.own_import(name) for name in f.calls):
        return  # TrainingConfig is built in a module of the recipe that this file imports
    for opt, kw in SURVIVAL.items():
        flag = f.flag(opt)
        if flag is None or f.reaches(flag.dest, "TrainingConfig", kw):
            continue
        yield ctx.finding(
            flag.line,
            f"`{opt}` is defined but `args.{flag.dest}` never reaches `TrainingConfig({kw}=...)`; "
            f"pass `{kw}=args.{flag.dest}` (only where `dataclasses.fields(TrainingConfig)` has "
            "it, for the shared library)",
        )
