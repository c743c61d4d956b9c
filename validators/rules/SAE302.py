"""## What it does
Checks that hidden states appended to an `ActivationStore` keep only valid positions: the value
must be selected with a mask or index (`hidden[mask]`, `masked_select`, a slice dropping special
tokens), following local variables and helpers.

Helpers imported from sibling modules are followed as in SAE301.

## Why is this bad?
Padding and special tokens (BOS/EOS/CLS) are not sequence positions. Appending them floods the
cache with near-constant vectors, skews the geometric-median pre-bias and the dead-latent
statistics, and breaks the token-position mapping used for probing. Evo2's `pad_mask` is a loss
mask (1 = valid), not an HF attention mask.

## Example
```python
store.append(hidden.reshape(-1, hidden.shape[-1]).float())
```

## Use instead
```python
store.append(hidden[valid_mask].float())
```
"""

from recipegen.validators.model import Fact, Invalid, Symptom

CODE = "SAE302"
NAME = "unmasked-append"
SEVERITY = "error"
SUMMARY = "Hidden states appended to the store without selecting valid positions"
GOTCHAS = (13,)
KIND = "python"
EXAMPLE_PATH = "extract.py"

# --- what the generated pages say (docs/gotchas.md, troubleshooting.md, SKILL.md) ---
SKILL_ROW = "hidden states appended without selecting valid positions (padding, CLS/BOS/EOS)"
SYMPTOMS = (
    Symptom(
        "Extraction",
        "variance explained > 95%, norms dominated by a few positions",
        "append `hidden[mask]` only: drop padding and CLS/BOS/EOS (Evo2: `pad_mask` 1 = valid)",
    ),
)
FACTS = {
    13: Fact(
        "Extractor (`extract.py`)",
        "Append valid positions only",
        """\
Select `hidden[mask]`. For the Evo2 predict CLI the batch carries `hidden_embeddings [B,S,H]`,
`pad_mask [B,S]`, `seq_idx [B]`, `tokens [B,S]`, and `pad_mask` is a loss mask (1 = a real token),
not an HF attention mask. For HF models drop padding and special tokens (CLS, BOS, EOS) unless the
recipe wants them. Rule: **SAE302**.
""",
    ),
}

_IMP = "from sae.activation_store import ActivationStore\n"

VALID = [
    _IMP + "def run(store, hidden, mask):\n    store.append(hidden[mask].float())\n",
    _IMP + "def valid(h, m):\n    return h[m.bool()]\n"
    "def run(store, hidden, mask):\n    store.append(valid(hidden, mask).half())\n",
    _IMP + "def run(store, hidden):\n    store.append(hidden[:, 1:-1].float())\n",
    # mean over the real positions only
    _IMP + "def run(store, h, mask):\n"
    "    store.append(((h * mask).sum(1) / mask.sum(1)).float())\n",
    {
        "extract.py": _IMP + "from pooling import to_rows\n"
        "def run(store, h, m):\n    store.append(to_rows(h, m))\n",
        "pooling.py": "def to_rows(h, m):\n    return h[m.bool()].float()\n",
    },
    _IMP
    + "from mylab.pooling import to_rows\ndef run(store, h, m):\n    store.append(to_rows(h, m))\n",
]
INVALID = [
    Invalid(
        _IMP
        + "def run(store, hidden):\n    store.append(hidden.reshape(-1, hidden.shape[-1]).float())\n",
        3,
        "without selecting valid positions",
    ),
    Invalid(
        _IMP + "def run(store, out):\n    h = out.hidden_states[0]\n    store.append(h.float())\n",
        4,
        "hidden[mask]",
    ),
    Invalid(
        {
            "extract.py": _IMP + "from pooling import raw_rows\n"
            "def run(store, h):\n    store.append(raw_rows(h).float())\n",
            "pooling.py": "def raw_rows(h):\n    return h.reshape(-1, h.shape[-1])\n",
        },
        4,
        "pooling.py",
    ),
]


def check(ctx):
    f = ctx.facts
    for site in f.store_appends:
        if not site.node.args:
            continue
        value = site.node.args[0]
        if f.is_selected(value, site.scope, ext=ctx.module):
            continue
        origin = f.helper_origin(value, site.scope, ctx.module)
        where = f" (it comes from {origin})" if origin else ""
        yield ctx.finding(
            site.line,
            f"hidden states appended without selecting valid positions{where}; append "
            "`hidden[mask]` (drop padding and special tokens)",
            site.col,
        )
