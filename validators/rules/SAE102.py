"""## What it does
Checks that each opt-in flag a training script defines actually reaches the library call that
consumes it: `TopKSAE(normalize_input=, aggregate_loss=, dead_count_global=)`,
`get_streaming_dataloader(mix_shards=)` and `store.sample(num_shards=)`. Flow through local
variables, `**kwargs` dicts and helper functions in the same file is followed; positional
arguments count by the library's parameter order. When the library call lives in a module of the
recipe that the script imports, the script is not judged. Switches the targeted `sae` release
lacks (`[tool.recipegen] sae-version`) are skipped.

## Why is this bad?
A flag that is parsed but never passed on is as broken as a missing one, and worse: the launch
script looks right. Two old copies of `train.py` wired none of the flags, and copying them turned
"reproduce the winner" runs into baseline runs.

## Example
```python
p.add_argument("--aggregate-loss", action=argparse.BooleanOptionalAction, default=False)
...
model = TopKSAE(dim, dim * 8, 32, normalize_input=args.normalize_input)
```

## Use instead
```python
model = TopKSAE(dim, dim * 8, 32, normalize_input=args.normalize_input,
                aggregate_loss=args.aggregate_loss, dead_count_global=args.dead_count_global)
```
"""

from recipegen.validators.model import Invalid
from recipegen.validators.rules._helpers import WIRED_TRAIN
from recipegen.validators.sae_api import OPT_IN, feature_of

CODE = "SAE102"
NAME = "opt-in-flag-not-wired"
SEVERITY = "error"
SUMMARY = "An opt-in flag is defined but `args.<dest>` never reaches the library call"
GOTCHAS = (1, 22)
KIND = "python"
EXAMPLE_PATH = "train.py"

# --- what the generated pages say (docs/gotchas.md, troubleshooting.md, SKILL.md) ---
SKILL_ROW = 'an opt-in flag is defined but `args.<dest>` never reaches `TopKSAE(...)`, `get_streaming_dataloader(mix_shards=)` or `sample(num_shards=)`: "reproduce the winner" silently trains the baseline'

VALID = [
    WIRED_TRAIN,
    # wired through a kwargs dict
    WIRED_TRAIN.replace(
        "    return TopKSAE(dim, dim * 8, 32, normalize_input=args.normalize_input,\n"
        "                   aggregate_loss=args.aggregate_loss, "
        "dead_count_global=args.dead_count_global)\n",
        "    kw = dict(normalize_input=args.normalize_input, aggregate_loss=args.aggregate_loss,\n"
        "              dead_count_global=args.dead_count_global)\n"
        "    return TopKSAE(dim, dim * 8, 32, **kw)\n",
    ),
]
INVALID = [
    Invalid(
        WIRED_TRAIN.replace(", num_shards=args.presample_shards", ""), 15, "sample(num_shards=...)"
    ),
    Invalid(WIRED_TRAIN.replace("mix_shards=mix)", "mix_shards=1)"), 14, "mix_shards"),
    Invalid(
        WIRED_TRAIN.replace(
            "aggregate_loss=args.aggregate_loss, dead_count_global=args.dead_count_global",
            "aggregate_loss=False",
        ),
        11,
        "`args.aggregate_loss` never reaches",
    ),
    # positional: the 7th argument of get_streaming_dataloader is mix_shards
    Invalid(
        WIRED_TRAIN.replace(
            "store.get_streaming_dataloader(4096, True, 0, 0, 1, None, mix_shards=mix)",
            "store.get_streaming_dataloader(4096, True, 0, 0, 1, None, 1)",
        ),
        14,
        "pass `mix_shards=args.mix_shards`",
    ),
]


def check(ctx):
    f = ctx.facts
    if not f.is_training_script:
        return
    elsewhere = any(f.own_import(name) for name in f.calls)
    for opt, (call, kw) in OPT_IN.items():
        flag = f.flag(opt)
        if flag is None or not ctx.has(feature_of(opt)):
            continue
        if not f.called(call) and elsewhere:
            continue  # the library call lives in a module of the recipe that this file imports
        if not f.reaches(flag.dest, call, kw):
            yield ctx.finding(
                flag.line,
                f"`{opt}` is defined but `args.{flag.dest}` never reaches `{call}({kw}=...)`; "
                f"pass `{kw}=args.{flag.dest}`",
            )
