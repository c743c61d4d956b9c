"""## What it does
Checks literal `TopKSAE(...)` sizes: `top_k` and `auxk` must be below the number of latents
(`hidden_dim`, i.e. expansion x input dim).

## Why is this bad?
Values are per model and scale with `hidden_dim`. With `top_k >= n_latents` every latent fires
(no sparsity); with `auxk >= n_latents` the AuxK term selects from fewer dead latents than it asks
for and fails or silently degenerates.

## Example
```python
TopKSAE(input_dim=256, hidden_dim=1024, top_k=32, auxk=2048)
```

## Use instead
```python
TopKSAE(input_dim=256, hidden_dim=4096, top_k=32, auxk=2048)  # expansion 16
```
"""

from recipegen.validators.model import Fact, Invalid, Symptom

CODE = "SAE104"
NAME = "topk-exceeds-latents"
SEVERITY = "error"
SUMMARY = "TopKSAE top_k or auxk is not below the number of latents"
GOTCHAS = (4,)
KIND = "python"
EXAMPLE_PATH = "train.py"

# --- what the generated pages say (docs/gotchas.md, troubleshooting.md, SKILL.md) ---
SKILL_ROW = "`TopKSAE` top-k or auxk not below the number of latents (they scale with `hidden_dim`)"
SYMPTOMS = (
    Symptom(
        "Training quality",
        "`top_k`/`auxk` errors, or every latent fires (L0 = number of latents)",
        "keep top-k and auxk below `expansion_factor x hidden_dim`; scale them with `hidden_dim`",
    ),
)
FACTS = {
    4: Fact(
        "Training script (`train.py`)",
        "Values belong to a model; flags are general",
        """\
Good values differ per model. Evo2-7B layer 26 did best with expansion 16, top-k 128, auxk 2048,
auxk coefficient 1/32, mix 10, presample 8, lr 1e-4 cosine down to 1e-5, 1000 warm-up steps,
gradient norm 1.0 and one epoch (about 21% dead, FVU about 0.10); CodonFM trained well with no
opt-in flag at all. Expansion, top-k and auxk scale with the hidden size, and top-k and auxk must
stay below the number of latents. Rule: **SAE104**; the generator refuses such a spec too.
""",
    ),
}

VALID = [
    "from sae.architectures import TopKSAE\nTopKSAE(input_dim=256, hidden_dim=4096, top_k=32, "
    "auxk=2048)\n",
    "from sae.architectures import TopKSAE\ndef m(d, k):\n    return TopKSAE(d, d * 8, k)\n",
    # a module's own TopKSAE class is not the library's
    "class TopKSAE:\n    def __init__(self, d, n, k):\n        pass\nTopKSAE(8, 8, 64)\n",
]
INVALID = [
    Invalid(
        "from sae.architectures import TopKSAE\nTopKSAE(input_dim=256, hidden_dim=1024, top_k=32, "
        "auxk=2048)\n",
        2,
        "`auxk=2048` is not below the number of latents (1024)",
    ),
    Invalid(
        "from sae.architectures import TopKSAE\nN = 64\nTopKSAE(32, N, 64, False)\n",
        3,
        "`top_k=64`",
    ),
]


def check(ctx):
    f = ctx.facts
    for site in f.sae_calls("TopKSAE"):
        latents = f.literal(site.arg("hidden_dim"), site.scope)
        if not isinstance(latents, int):
            continue
        for kw in ("top_k", "auxk"):
            val = f.literal(site.arg(kw), site.scope)
            if isinstance(val, int) and not isinstance(val, bool) and val >= latents:
                yield ctx.finding(
                    site.line,
                    f"`{kw}={val}` is not below the number of latents ({latents}); raise the "
                    "expansion factor or lower it",
                    site.col,
                )
