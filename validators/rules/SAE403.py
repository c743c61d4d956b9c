"""## What it does
Checks the shape of a `TopKSAE` rebuilt from literals or a checkpoint: the encoder maps
`input_dim -> hidden_dim` (= expansion x input_dim), the decoder is the transpose, so
`hidden_dim` must not be smaller than `input_dim`, and `input_dim=ckpt["hidden_dim"]`,
`hidden_dim=ckpt["input_dim"]` is a swap.

## Why is this bad?
A swapped or shrunk SAE either fails `load_state_dict` with a confusing size mismatch or, for
square cases, loads and evaluates the wrong thing.

## Example
```python
TopKSAE(input_dim=ckpt["hidden_dim"], hidden_dim=ckpt["input_dim"], top_k=32)
```

## Use instead
```python
TopKSAE(input_dim=ckpt["input_dim"], hidden_dim=ckpt["hidden_dim"], top_k=32)
```
"""

import ast

from recipegen.validators.model import Fact, Invalid, Symptom

CODE = "SAE403"
NAME = "checkpoint-shape"
SEVERITY = "error"
SUMMARY = "TopKSAE built with swapped or shrunk input/hidden dimensions"
GOTCHAS = (20,)
KIND = "python"
EXAMPLE_PATH = "eval.py"

# --- what the generated pages say (docs/gotchas.md, troubleshooting.md, SKILL.md) ---
SKILL_ROW = "`TopKSAE` rebuilt with swapped or shrunk input/hidden dimensions"
SYMPTOMS = (
    Symptom(
        "Evaluation",
        "`load_state_dict` size mismatch, or an SAE narrower than its input",
        '`TopKSAE(input_dim=ckpt["input_dim"], hidden_dim=ckpt["hidden_dim"], ...)`: encoder `hidden_dim -> expansion x hidden_dim`, decoder the transpose',
    ),
)
FACTS = {
    20: Fact(
        "Evaluation and sanity",
        "Checkpoint shape",
        """\
The encoder maps `hidden_dim -> expansion x hidden_dim`; the decoder is the transpose.
Rule: **SAE403**.
""",
    ),
}

VALID = [
    "from sae.architectures import TopKSAE\nTopKSAE(input_dim=c['input_dim'], "
    "hidden_dim=c['hidden_dim'], top_k=32)\n",
    "from sae.architectures import TopKSAE\nTopKSAE(256, 2048, 32)\n",
]
INVALID = [
    Invalid(
        "from sae.architectures import TopKSAE\nTopKSAE(input_dim=c['hidden_dim'], "
        "hidden_dim=c['input_dim'], top_k=32)\n",
        2,
        "swapped",
    ),
    Invalid(
        "from sae.architectures import TopKSAE\nTopKSAE(2048, 256, 32)\n",
        2,
        "hidden_dim=256 is smaller than input_dim=2048",
    ),
]


def _mentions(expr, word):
    if expr is None:
        return False
    for n in ast.walk(expr):
        if isinstance(n, ast.Constant) and n.value == word:
            return True
        if (
            isinstance(n, (ast.Attribute, ast.Name))
            and getattr(n, "attr", getattr(n, "id", "")) == word
        ):
            return True
    return False


def check(ctx):
    f = ctx.facts
    for site in f.sae_calls("TopKSAE"):
        i, h = site.arg("input_dim"), site.arg("hidden_dim")
        if _mentions(i, "hidden_dim") and _mentions(h, "input_dim"):
            yield ctx.finding(
                site.line,
                "input_dim and hidden_dim are swapped; the encoder is [input_dim -> hidden_dim]",
                site.col,
            )
            continue
        iv, hv = f.literal(i, site.scope), f.literal(h, site.scope)
        if isinstance(iv, int) and isinstance(hv, int) and hv < iv:
            yield ctx.finding(
                site.line,
                f"hidden_dim={hv} is smaller than input_dim={iv}; "
                "hidden_dim is expansion x input_dim",
                site.col,
            )
