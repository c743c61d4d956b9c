"""## What it does
Checks that a training script (argparse + `TopKSAE`/`TrainingConfig`) defines all five opt-in
flags of the `sae` library: `--normalize-input`, `--aggregate-loss`, `--dead-count-global`,
`--mix-shards` and `--presample-shards`. Only scripts that use the `sae` API count (they import
from `sae`; a Lightning module with its own `TopKSAE` does not), and only the switches the
targeted library offers are asked for: when the recipe is pinned to an older `sae`, list what
that library offers with `[tool.recipegen] sae-features = ["normalize-input"]` in the recipe's
pyproject.toml (`aggregate_loss`, `dead_count_global`, `mix_shards` and `sample(num_shards=)`
arrived together). Use `sae-features`, not `sae-version`: the library's version stayed 0.1.0
while the opt-in flags arrived, so no version number tells the releases apart. The default is
the newest library.

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

from recipegen.validators.model import Fact, Invalid, Symptom
from recipegen.validators.rules._helpers import WIRED_TRAIN
from recipegen.validators.sae_api import OPT_IN, feature_of

CODE = "SAE101"
NAME = "opt-in-flag-missing"
SEVERITY = "error"
SUMMARY = "A training script lacks one of the five opt-in flags of the sae library"
GOTCHAS = (1, 22)
KIND = "python"
EXAMPLE_PATH = "train.py"

# --- what the generated pages say (docs/gotchas.md, troubleshooting.md, SKILL.md) ---
SKILL_ROW = "`train.py` lacks one of the five opt-in flags (`--normalize-input`, `--aggregate-loss`, `--dead-count-global`, `--mix-shards`, `--presample-shards`)"
SYMPTOMS = (
    Symptom(
        "Training quality",
        '"Reproduce the winner" run looks like the baseline; most latents dead',
        "define the five opt-in flags in `train.py` and pass `args.<dest>` to `TopKSAE(...)`, `get_streaming_dataloader(mix_shards=)`, `store.sample(num_shards=)`; better, re-render with `recipegen new`",
        codes=("SAE101", "SAE102"),
    ),
)
FACTS = {
    1: Fact(
        "Training script (`train.py`)",
        "The five opt-in flags must exist and reach the library",
        """\
The `sae` runtime has five switches that improve training but default to the old behaviour:
`--normalize-input` (scale inputs; the strongest lever against dead latents, on Evo2 it took them
from about 80% to about 20%), `--aggregate-loss` (FVU and AuxK as batch-level ratios instead of
per-token means), `--dead-count-global` (count latent inactivity over the tokens of all ranks),
`--mix-shards N` (each batch drawn from N shards) and `--presample-shards N` (the pre-bias sample
drawn from N shards, not shard 0 alone). A script that parses a flag but never hands
`args.<flag>` to the library silently trains the baseline: copies of an older script did exactly
that. Rules: **SAE101** (flag missing), **SAE102** (flag parsed but not wired).
""",
    ),
    22: Fact(
        "Evaluation and sanity",
        "Library versions matter to lint",
        """\
`aggregate_loss`, `dead_count_global`, `mix_shards` and `sample(num_shards=...)` arrived in the
shared `sae` library together. A recipe pinned to an older library cannot pass those flags;
judging it against the newest library only produces noise. Tell lint which library a recipe
targets with `[tool.recipegen] sae-features = [...]` in the nearest `pyproject.toml` (e.g.
`["normalize-input"]` for a library from before the others arrived); the default is the newest.
The library's version number stayed 0.1.0 while these flags arrived, so `sae-version` cannot
describe that history: only `sae-features` can. Rules: **SAE101**, **SAE102**, **SAE202**.
""",
    ),
}

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
        "pyproject.toml": '[tool.recipegen]\nsae-features = ["normalize-input", "presample-shards"]\n',
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
