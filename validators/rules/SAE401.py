"""## What it does
Reports an evaluation step whose `--eval-cache` is the training `--cache-dir` of the same
launch script.

## Why is this bad?
Reconstruction, dead-latent % and loss recovered must be measured on a held-out cache (same
distribution, disjoint sequences). On the training cache they reward memorisation and hide
overfitting.

## Example
```bash
torchrun --nproc_per_node 1 train.py --cache-dir "$CACHE"
python eval.py --eval-cache "$CACHE" --sae-checkpoint out/checkpoint_final.pt
```

## Use instead
```bash
[[ -f "$EVAL_CACHE/metadata.json" ]] || python extract.py --split eval --output "$EVAL_CACHE"
python eval.py --eval-cache "$EVAL_CACHE" --sae-checkpoint out/checkpoint_final.pt
```
"""

from recipegen.validators.model import Fact, Invalid, Symptom

CODE = "SAE401"
NAME = "eval-on-train-cache"
SEVERITY = "error"
SUMMARY = "Evaluation reads the training cache instead of a held-out one"
GOTCHAS = (18,)
KIND = "shell"
EXAMPLE_PATH = "launch.sh"

# --- what the generated pages say (docs/gotchas.md, troubleshooting.md, SKILL.md) ---
SKILL_ROW = "evaluation reads the training cache instead of the held-out one"
SYMPTOMS = (
    Symptom(
        "Evaluation",
        "eval numbers look great, real use disappoints",
        "evaluate on the held-out cache (`--eval-cache` = `WORK/cache_eval`), never the training cache",
    ),
)
FACTS = {
    18: Fact(
        "Evaluation and sanity",
        "Evaluate on held-out sequences",
        """\
Use a cache of the same distribution with disjoint sequences: FVU / variance explained, dead
latents, loss recovered (the reconstruction substituted at the layer, cross-entropy compared with
the clean and the zero-ablated model) and per-feature probing AUROC on labelled tokens.
Rule: **SAE401**.
""",
    ),
}

VALID = [
    'python train.py --cache-dir "$CACHE"\npython eval.py --eval-cache "$EVAL_CACHE"\n',
]
INVALID = [
    Invalid(
        'CACHE=cache\npython train.py --cache-dir "$CACHE"\npython eval.py --eval-cache "$CACHE"\n',
        3,
        "is the training cache",
    ),
]


def check(ctx):
    f = ctx.facts
    train = set()
    for inv in f.invocations:
        u = inv.flag("--cache-dir")
        if u is not None and u.value is not None:
            train.add(u.value.raw)
            train.add(u.value.text)
    for inv in f.invocations:
        u = inv.flag("--eval-cache")
        if (
            u is not None
            and u.value is not None
            and (u.value.raw in train or u.value.text in train)
        ):
            yield ctx.finding(
                inv.line,
                f"`--eval-cache {u.value.raw}` is the training cache; "
                "evaluate on a held-out cache (extract --split eval)",
            )
