"""## What it does
Checks that a training script using a cosine schedule (or one chosen by a flag) does not
hard-code the decay horizon: `lr_decay_steps` and
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

from recipegen.validators.model import Fact, Invalid, Symptom
from recipegen.validators.rules._helpers import WIRED_TRAIN
from recipegen.validators.sae_api import DEFAULT_LR_SCHEDULE

CODE = "SAE103"
NAME = "decay-horizon-hardcoded"
SEVERITY = "error"
SUMMARY = "lr_decay_steps/max_steps hard-coded or derived from nothing in the trainer config"
GOTCHAS = (2,)
KIND = "python"
EXAMPLE_PATH = "train.py"

# --- what the generated pages say (docs/gotchas.md, troubleshooting.md, SKILL.md) ---
SKILL_ROW = (
    "`train.py` hard-codes `lr_decay_steps`/`max_steps`; the horizon must come from the data"
)
SYMPTOMS = (
    Symptom(
        "Training quality",
        "same, and no launch flag caps it",
        "`train.py` must derive the horizon from epochs x batches, never a literal",
    ),
)
FACTS = {
    2: Fact(
        "Training script (`train.py`)",
        "A cosine schedule must cover the whole run",
        """\
`--max-steps`, or a `--lr-decay-steps` shorter than the run, with `--lr-schedule cosine` ends the
cosine early: the learning rate sits at `lr_min` for the rest of training and FVU plateaus high.
The horizon must come from the data (epochs x batches per epoch), never a constant.
Rules: **SAE103** (hard-coded horizon), **SAE201** (cosine with a step cap).
""",
    ),
}

VALID = [
    WIRED_TRAIN,
    "from sae.training import TrainingConfig\n"
    "def cfg(store, batch):\n"
    "    steps = store.n_samples // batch\n"
    "    return TrainingConfig(lr_decay_steps=steps, max_steps=None)\n",
    # a constant schedule (the library default): a step cap only limits the duration
    "from sae.training import TrainingConfig\nTrainingConfig(n_epochs=1, max_steps=12)\n",
    "from sae.training import TrainingConfig\n"
    "TrainingConfig(lr_schedule='linear', lr_decay_steps=500)\n",
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


def _may_be_cosine(f, site) -> bool:
    """False when the config's schedule is known not to be cosine (then a step cap is a plain
    duration limit): not given (the library default), or a literal other than "cosine"."""
    expr = site.arg("lr_schedule")
    if expr is None:
        return DEFAULT_LR_SCHEDULE == "cosine" or bool(site.star_kwargs())
    value = f.literal(expr, site.scope)
    return not isinstance(value, str) or value == "cosine"


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
        if not _may_be_cosine(f, site):
            continue
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
