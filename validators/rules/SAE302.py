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

import ast

from recipegen.validators.facts_python import CHAIN, FROM_STORE, JOIN, last_name
from recipegen.validators.model import Fact, Invalid, Symptom
from recipegen.validators.rules._values import helper_origin, imported_function, joined

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
        if is_selected(f, value, site.scope, ext=ctx.module):
            continue
        origin = helper_origin(f, value, site.scope, ctx.module)
        where = f" (it comes from {origin})" if origin else ""
        yield ctx.finding(
            site.line,
            f"hidden states appended without selecting valid positions{where}; append "
            "`hidden[mask]` (drop padding and special tokens)",
            site.col,
        )


# --- queries of this rule ---
_SELECT = {"masked_select", "index_select", "compress", "boolean_mask", "nonzero", "where"}

_CASTS = {"float", "half", "double", "to", "type", "astype", "bfloat16"}


def is_selected(f, expr: ast.AST, scope: ast.AST, depth: int = 0, ext=None) -> bool:
    """True when the appended value keeps only chosen positions (`h[mask]`, masked_select)."""
    if depth > 12:
        return False
    if isinstance(expr, ast.Subscript):
        # `out.hidden_states[layer]` picks a layer; `out.hidden_states[layer][mask]` selects rows
        layer_index = isinstance(expr.value, (ast.Name, ast.Attribute)) and last_name(
            expr.value
        ) in ("hidden_states", "layers", "all_hidden_states")
        if not layer_index and _selective(expr.slice):
            return True
        return is_selected(f, expr.value, scope, depth + 1, ext)
    if isinstance(expr, ast.Call):
        name = last_name(expr.func)
        if name in _SELECT or name in FROM_STORE:
            return True
        if name in JOIN and expr.args:
            parts = joined(f, expr.args[0], scope)
            return parts is None or all(is_selected(f, p, s, depth + 1, ext) for p, s in parts)
        if isinstance(expr.func, ast.Name) and name not in f.functions:
            other = imported_function(f, name, ext)
            if other is not None:
                ofacts, ofn = other
                return ofn is None or any(
                    is_selected(ofacts, n.value, ofn, depth + 1)
                    for n in ast.walk(ofn)
                    if isinstance(n, ast.Return) and n.value is not None
                )
        if isinstance(expr.func, ast.Name) and name in f.functions:
            fn = f.functions[name]
            return any(
                is_selected(f, n.value, fn, depth + 1, ext)
                for n in ast.walk(fn)
                if isinstance(n, ast.Return) and n.value is not None
            )
        is_method = isinstance(expr.func, ast.Attribute)
        parts = [] if is_method and name in CHAIN | _CASTS else list(expr.args)
        if is_method:
            parts.append(expr.func.value)
        return any(is_selected(f, p, scope, depth + 1, ext) for p in parts)
    if isinstance(expr, ast.Name):
        vals = f.values_of(expr, scope)
        if vals == [expr]:
            if expr.id in f.params.get(id(scope), []) and not _selective(expr):
                return any(
                    is_selected(f, a, s, depth + 1, ext) for a, s in f._param_args(scope, expr.id)
                )
            return _selective(expr)  # a value named like a mask (`mask`, `valid_pos`)
        return any(is_selected(f, v, scope, depth + 1, ext) for v in vals)
    if isinstance(expr, (ast.BinOp, ast.Tuple, ast.List)):
        return any(is_selected(f, c, scope, depth + 1, ext) for c in ast.iter_child_nodes(expr))
    return False


def _selective(s: ast.AST) -> bool:
    if isinstance(s, ast.Constant):
        return False
    if isinstance(s, ast.Slice):
        return any(b is not None for b in (s.lower, s.upper))
    if isinstance(s, ast.Tuple):
        return any(_selective(e) for e in s.elts)
    if isinstance(s, (ast.Compare, ast.BoolOp, ast.UnaryOp)):
        return True
    if isinstance(s, ast.Name):
        text = s.id.lower()
        return any(k in text for k in ("mask", "valid", "keep", "sel", "idx", "index", "pos"))
    return True
