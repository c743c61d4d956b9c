"""## What it does
Checks that every value passed to `ActivationStore.append` is explicitly cast to fp16 or fp32
(`.float()`, `.half()`, `.to(torch.float16)`, `.astype(np.float32)`, `dtype=`), following local
variables and helpers. A cast to bfloat16 is always reported.

The store is recognised by what it is (an `ActivationStore` assigned to a name, an attribute or
a dict entry), or by its name in files that use the `sae` API. A value made by a helper imported
from a sibling module of the recipe is followed into that module (the message names it); when
that module cannot be read the rule stays silent.

## Why is this bad?
Arrow and NumPy cannot store bfloat16. Hidden states from a bf16 model either crash the
writer hours into extraction or are silently up-cast inconsistently between shards.

## Example
```python
store.append(out.hidden_states[layer][mask])
```

## Use instead
```python
store.append(out.hidden_states[layer][mask].to(torch.float16))
```
"""

from recipegen.validators.model import Fact, Invalid, Symptom

CODE = "SAE301"
NAME = "bf16-append"
SEVERITY = "error"
SUMMARY = "ActivationStore.append without an explicit fp16/fp32 cast (or with a bf16 cast)"
GOTCHAS = (12,)
KIND = "python"
EXAMPLE_PATH = "extract.py"

# --- what the generated pages say (docs/gotchas.md, troubleshooting.md, SKILL.md) ---
SKILL_ROW = "`ActivationStore.append` of a tensor not cast to fp16/fp32 (bf16 cannot be stored)"
SYMPTOMS = (
    Symptom(
        "Extraction",
        "`ArrowNotImplementedError` / `TypeError` on bfloat16 when appending",
        "`store.append(hidden.float())` or `.half()`; never cast to bfloat16",
    ),
)
FACTS = {
    12: Fact(
        "Extractor (`extract.py`)",
        "No bfloat16 in the store",
        """\
Arrow and NumPy have no bfloat16: cast hidden states to float16 or float32 before
`ActivationStore.append`. Evo2 activations overflow float16, so its recipe keeps float32.
Rule: **SAE301**.
""",
    ),
}

_IMP = "import torch\nfrom sae.activation_store import ActivationStore\n"

VALID = [
    _IMP + "def run(store, hidden, mask):\n    store.append(hidden[mask].float().cpu().numpy())\n",
    _IMP
    + "def run(store, hidden, mask):\n    x = hidden[mask].to(torch.float16)\n    store.append(x)\n",
    "items = []\nitems.append(3)\n",
    # not the sae API: a list that happens to be named like a store
    "def refresh(self, h):\n    self.act_store.append(h.reshape(-1, h.shape[-1]))\n",
    # the helper in a sibling module casts (and masks)
    {
        "extract.py": _IMP + "from pooling import to_rows\n"
        "def run(store, h, m):\n    store.append(to_rows(h, m))\n",
        "pooling.py": "def to_rows(h, m):\n    return h[m.bool()].float()\n",
    },
    # NumPy has no bfloat16
    _IMP + "import numpy as np\ndef run(store, path, m):\n"
    "    store.append(torch.from_numpy(np.load(path))[m])\n",
    # pieces cast before they are joined
    _IMP + "def run(store, batches):\n    rows = []\n    for h, m in batches:\n"
    "        rows.append(h[m].float())\n    store.append(torch.cat(rows))\n",
    # the helper's module is not part of the files linted: stay silent
    _IMP
    + "from mylab.pooling import to_rows\ndef run(store, h, m):\n    store.append(to_rows(h, m))\n",
]
INVALID = [
    Invalid(
        _IMP + "def run(store, hidden, mask):\n    store.append(hidden[mask])\n", 4, "no explicit"
    ),
    Invalid(
        _IMP + "def run(store, hidden, mask):\n    store.append(hidden[mask].to(torch.bfloat16))\n",
        4,
        "cast to bfloat16",
    ),
    # the store is held in a dict entry; recognised by what it is, not by its name
    Invalid(
        _IMP + "def main(model, batches, out):\n"
        '    state = {"store": ActivationStore(out)}\n'
        "    for b, m in batches:\n"
        "        flat = model(b)[m].cpu()\n"
        '        state["store"].append(flat)\n',
        7,
        "no explicit fp16/fp32 cast",
    ),
    Invalid(
        {
            "extract.py": _IMP + "from pooling import raw_rows\n"
            "def run(store, h):\n    store.append(raw_rows(h))\n",
            "pooling.py": "def raw_rows(h):\n    return h[:, 1:]\n",
        },
        5,
        "pooling.py",
    ),
]


def check(ctx):
    f = ctx.facts
    for site in f.store_appends:
        if not site.node.args:
            continue
        value = site.node.args[0]
        kind = f.cast_kind(value, site.scope, ext=ctx.module)
        if kind in ("cast", "unknown"):
            continue
        if kind == "bf16":
            msg = "value appended to the store is cast to bfloat16; Arrow/NumPy cannot store it"
        else:
            msg = "value appended to the store has no explicit fp16/fp32 cast"
        origin = f.helper_origin(value, site.scope, ctx.module)
        if origin:
            msg += f" (it comes from {origin})"
        yield ctx.finding(site.line, msg + "; append `.to(torch.float16)` or `.float()`", site.col)
