"""## What it does
Checks that a training script (argparse + `TopKSAE`/`TrainingConfig`) defines all five opt-in
flags of the `sae` library: `--normalize-input`, `--aggregate-loss`, `--dead-count-global`,
`--mix-shards` and `--presample-shards`. Only scripts that use the `sae` API count (they import
from `sae`; a Lightning module with its own `TopKSAE` does not), and only the switches the
targeted library offers are asked for: set `[tool.recipegen] sae-version = "0.0.9"` (or
`sae-features = [...]`) in the recipe's pyproject.toml when it is pinned to an older `sae`
(`aggregate_loss`, `dead_count_global`, `mix_shards` and `sample(num_shards=)` arrived
together); the default is the newest library.

## Why is this bad?
The switches default to the old behaviour. A script without them cannot turn on the fixes
(normalised input: ~80% -> ~20% dead latents on Evo2), so a launch that "reproduces the winner"
silently trains a baseline, or crashes on an unknown flag.

## Example
```python
p.add_argument("--normalize-input", action=argparse.BooleanOptionalAction)
# no --aggregate-loss, --dead-count-global, --mix-shards, --presample-shards
```

## Use instead
Define all five (BooleanOptionalAction for the booleans, `type=int` for the shard counts) and
pass each one on (see SAE102).
"""

from recipegen.validators.model import Invalid
from recipegen.validators.rules._helpers import WIRED_TRAIN
from recipegen.validators.sae_api import OPT_IN, feature_of

CODE = "SAE101"
NAME = "opt-in-flag-missing"
SEVERITY = "error"
SUMMARY = "A training script lacks one of the five opt-in flags of the sae library"
GOTCHAS = (1, 22)
KIND = "python"
EXAMPLE_PATH = "train.py"

VALID = [
    WIRED_TRAIN,
    # not a training script: no argparse
    "from sae.architectures import TopKSAE\nm = TopKSAE(8, 64, 4, False)\n",
    # a Lightning script with its own TopKSAE and Trainer does not use the sae API
    "import argparse\nimport lightning.pytorch as pl\nfrom torch import nn\n"
    "class TopKSAE(nn.Module):\n    pass\n"
    "p = argparse.ArgumentParser()\np.add_argument('--k', type=int)\na = p.parse_args()\n"
    "pl.Trainer(max_epochs=1).fit(TopKSAE())\n",
    # pinned to an sae release without mix_shards / aggregate_loss / dead_count_global
    {
        "pyproject.toml": '[tool.recipegen]\nsae-version = "0.0.9"\n',
        "train.py": WIRED_TRAIN.replace(
            '    p.add_argument("--mix-shards", type=int, default=1)\n', ""
        ).replace(
            '    p.add_argument("--aggregate-loss", action=argparse.BooleanOptionalAction, '
            "default=False)\n",
            "",
        ),
    },
]
INVALID = [
    Invalid(
        WIRED_TRAIN.replace('    p.add_argument("--mix-shards", type=int, default=1)\n', ""),
        8,
        "does not define `--mix-shards`",
    ),
    Invalid(
        "import argparse\nfrom sae.training import TrainingConfig\n"
        "p = argparse.ArgumentParser()\np.add_argument('--lr', type=float)\n"
        "a = p.parse_args()\nTrainingConfig(lr=a.lr)\n",
        3,
        "`--dead-count-global`",
    ),
]


def check(ctx):
    f = ctx.facts
    if not f.is_training_script:
        return
    missing = [opt for opt in OPT_IN if f.flag(opt) is None and ctx.has(feature_of(opt))]
    for opt in missing:
        yield ctx.finding(
            f.parser_line,
            f"training script does not define `{opt}`; add it with argparse and pass it to "
            f"`{OPT_IN[opt][0]}({OPT_IN[opt][1]}=...)`",
        )
