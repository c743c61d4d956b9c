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

import ast

from recipegen.validators.facts_python import CHAIN, FROM_STORE, JOIN, dotted, last_name, unparse
from recipegen.validators.model import Fact, Invalid, Symptom
from recipegen.validators.rules._values import combine, helper_origin, imported_function, joined

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
        kind = cast_kind(f, value, site.scope, ext=ctx.module)
        if kind in ("cast", "unknown"):
            continue
        if kind == "bf16":
            msg = "value appended to the store is cast to bfloat16; Arrow/NumPy cannot store it"
        else:
            msg = "value appended to the store has no explicit fp16/fp32 cast"
        origin = helper_origin(f, value, site.scope, ctx.module)
        if origin:
            msg += f" (it comes from {origin})"
        yield ctx.finding(site.line, msg + "; append `.to(torch.float16)` or `.float()`", site.col)


# --- queries of this rule ---
_FROM_NUMPY = {"from_numpy", "frombuffer"}


def cast_kind(f, expr: ast.AST, scope: ast.AST, depth: int = 0, ext=None) -> str:
    """'cast' (fp16/fp32), 'bf16', 'none', or 'unknown' (made by a helper of another module
    that `ext(module, level)` cannot load) for the value appended to a store."""
    if depth > 12:
        return "none"
    if isinstance(expr, ast.Call):
        func = expr.func
        name = last_name(func)
        dtype_args = list(expr.args) + [k.value for k in expr.keywords]
        if name in FROM_STORE:  # rows read back from a store were cast when first written
            return "cast"
        if name in _FROM_NUMPY or dotted(func).split(".")[0] in ("np", "numpy"):
            return "cast"  # NumPy has no bfloat16: what comes from it is fp16/fp32
        if isinstance(func, ast.Attribute):
            if name in ("float", "half", "double"):
                return "cast"
            if name == "bfloat16":
                return "bf16"
            if name in ("to", "type", "astype"):
                text = " ".join(unparse(a) for a in dtype_args)
                if "bfloat16" in text or "bf16" in text:
                    return "bf16"
                if name == "astype" or "float" in text or "half" in text or "dtype" in text:
                    return "cast"
                return cast_kind(f, func.value, scope, depth + 1, ext)
            if name in CHAIN:
                return cast_kind(f, func.value, scope, depth + 1, ext)
        dt = next((k.value for k in expr.keywords if k.arg == "dtype"), None)
        if dt is not None:
            return "bf16" if "bfloat16" in unparse(dt) else "cast"
        if isinstance(func, ast.Name) and name not in f.functions:
            other = imported_function(f, name, ext)
            if other is not None:
                ofacts, fn = other
                if fn is None:
                    return "unknown"
                return combine(
                    [
                        cast_kind(ofacts, n.value, fn, depth + 1)
                        for n in ast.walk(fn)
                        if isinstance(n, ast.Return) and n.value is not None
                    ]
                )
        if isinstance(func, ast.Name) and name in f.functions:
            kinds = [
                cast_kind(f, n.value, f.functions[name], depth + 1, ext)
                for n in ast.walk(f.functions[name])
                if isinstance(n, ast.Return) and n.value is not None
            ]
            return combine(kinds)
        if name in ("asarray", "array", "as_tensor", "tensor", "ascontiguousarray") and expr.args:
            return cast_kind(f, expr.args[0], scope, depth + 1, ext)
        if name in JOIN and expr.args:
            parts = joined(f, expr.args[0], scope)
            if parts is None:
                return "unknown"
            return combine([cast_kind(f, p, s, depth + 1, ext) for p, s in parts])
        return "none"
    if isinstance(expr, ast.Subscript):
        return cast_kind(f, expr.value, scope, depth + 1, ext)
    if isinstance(expr, ast.Name):
        vals = f.values_of(expr, scope)
        if vals == [expr]:
            if expr.id in f.params.get(id(scope), []):
                return combine(
                    [cast_kind(f, a, s, depth + 1, ext) for a, s in f._param_args(scope, expr.id)]
                )
            return "none"
        return combine([cast_kind(f, v, scope, depth + 1, ext) for v in vals])
    return "none"
