"""## What it does
Checks that a training script does not hard-code the decay horizon: `lr_decay_steps` and
`max_steps` passed to `TrainingConfig` must be `None` or come from their own flags
(`args.lr_decay_steps`, `args.max_steps`) or from the data (epochs x batches per epoch), and the
argparse defaults of `--lr-decay-steps`/`--max-steps` must be `None`.

## Why is this bad?
A cosine schedule spans `lr_decay_steps`/`max_steps`. A literal (`100_000`) or a number derived
from nothing (`args.n_epochs * 1000`) shrinks or stretches the horizon whatever the data size:
the LR collapses to `lr_min` early and FVU plateaus high.

## Example
```python
TrainingConfig(lr_schedule="cosine", lr_decay_steps=args.n_epochs * 1000)
```

## Use instead
```python
TrainingConfig(lr_schedule="cosine", lr_decay_steps=args.lr_decay_steps, max_steps=args.max_steps)
```
"""

from recipegen.validators.model import Invalid
from recipegen.validators.rules._helpers import WIRED_TRAIN

CODE = "SAE103"
NAME = "decay-horizon-hardcoded"
SEVERITY = "error"
SUMMARY = "lr_decay_steps/max_steps hard-coded or derived from nothing in the trainer config"
GOTCHAS = (2,)
KIND = "python"
EXAMPLE_PATH = "train.py"

VALID = [
    WIRED_TRAIN,
    "from sae.training import TrainingConfig\n"
    "def cfg(store, batch):\n"
    "    steps = store.n_samples // batch\n"
    "    return TrainingConfig(lr_decay_steps=steps, max_steps=None)\n",
    # transformers' TrainingArguments / a Lightning `--max-steps -1` are not the sae trainer
    "import argparse\nfrom transformers import Trainer, TrainingArguments\n"
    "p = argparse.ArgumentParser()\np.add_argument('--max-steps', type=int, default=2000)\n"
    "a = p.parse_args()\nTrainer(args=TrainingArguments('o', max_steps=a.max_steps))\n",
]
INVALID = [
    Invalid(
        WIRED_TRAIN.replace("lr_decay_steps=args.lr_decay_steps", "lr_decay_steps=100_000"),
        39,
        "`lr_decay_steps` is hard-coded",
    ),
    Invalid(
        WIRED_TRAIN.replace("max_steps=args.max_steps)", "max_steps=args.dp_size * 1000)"),
        40,
        "`max_steps` is hard-coded",
    ),
    Invalid(
        WIRED_TRAIN.replace(
            '"--max-steps", type=int, default=None', '"--max-steps", type=int, default=20000'
        ),
        18,
        "defaults to 20000",
    ),
]

_KWS = {"lr_decay_steps": "--lr-decay-steps", "max_steps": "--max-steps"}


def check(ctx):
    f = ctx.facts
    for opt in _KWS.values() if f.is_training_script else ():
        flag = f.flag(opt)
        if flag is not None and flag.has_default and flag.default is not None:
            yield ctx.finding(
                flag.line,
                f"`{opt}` defaults to {flag.default!r}; default it to None so the horizon comes "
                "from the data (epochs x batches per epoch)",
            )
    for site in f.sae_calls("TrainingConfig"):
        for kw in _KWS:
            expr = site.arg(kw)
            if expr is None:
                continue
            src = f.sources(expr, site.scope)
            own = {("arg", fl.dest) for fl in f.flags if _KWS[kw] in fl.options}
            if not src or src <= {("none",)} or src & own or ("data",) in src:
                continue
            yield ctx.finding(
                expr.lineno,
                f"`{kw}` is hard-coded or derived from nothing; pass `args.{kw}` (default None) "
                "and let the data set the horizon",
                expr.col_offset + 1,
            )
