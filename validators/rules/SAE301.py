"""## What it does
Checks that every value passed to `ActivationStore.append` is explicitly cast to fp16 or fp32
(`.float()`, `.half()`, `.to(torch.float16)`, `.astype(np.float32)`, `dtype=`), following local
variables and helpers. A cast to bfloat16 is always reported.

The store is recognised by what it is (an `ActivationStore` assigned to a name, an attribute or
a dict entry), or by its name in files that use the `sae` API. A value made by a helper imported
from a sibling module of the recipe is followed into that module (the message names it); when
that module cannot be read the rule stays silent, and so it does for a method of an object made
by the recipe's own modules or packages. A dtype held in a variable (`.to(cast)`) is followed
through names, dict literals and `d["k"] = v` entries; a dict indexed by an argparse option
counts only the keys its `choices` allow. `a, b = helper(...)` takes the matching element of
the tuples a same-module helper returns.

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
import re

from recipegen.validators.facts_python import CHAIN, FROM_STORE, JOIN, dotted, last_name, unparse
from recipegen.validators.lazy_re import compile_lazy
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
    # a dtype held in a variable: a dict indexed by an option whose choices are fp32/fp16 only
    _IMP + "import argparse\n"
    "_DTYPES = {'fp32': torch.float32, 'fp16': torch.float16, 'bf16': torch.bfloat16}\n"
    "_state = {}\n"
    "def run(store, hidden, mask):\n"
    "    flat = hidden[mask].to(_state['cast']).cpu()\n"
    "    store.append(flat)\n"
    "def main():\n"
    "    p = argparse.ArgumentParser()\n"
    "    p.add_argument('--dtype', choices=['fp32', 'fp16'], default='fp32')\n"
    "    args = p.parse_args()\n"
    "    _state['cast'] = _DTYPES[args.dtype]\n",
    # a same-module helper returning a tuple whose first element is cast
    _IMP + "def _load_one(hidden, mask):\n"
    "    return hidden[mask].float(), int(mask.sum())\n"
    "def run(store, hidden, mask):\n"
    "    flat, n = _load_one(hidden, mask)\n"
    "    store.append(flat)\n",
    # a method of an object made by the recipe's own package: not followed, so silent
    _IMP + "from mylab.acts import Extractor\n"
    "def run(store, batches):\n"
    "    ex = Extractor('ckpt')\n"
    "    for b in batches:\n"
    "        store.append(ex.activations(b))\n",
]
INVALID = [
    Invalid(
        _IMP + "def run(store, hidden, mask):\n    store.append(hidden[mask])\n", 4, "no explicit"
    ),
    # the option's choices allow bf16: the variable can hold bfloat16
    Invalid(
        _IMP + "import argparse\n"
        "_DTYPES = {'fp32': torch.float32, 'bf16': torch.bfloat16}\n"
        "def main(store, hidden, mask):\n"
        "    p = argparse.ArgumentParser()\n"
        "    p.add_argument('--dtype', choices=['fp32', 'bf16'])\n"
        "    args = p.parse_args()\n"
        "    cast = _DTYPES[args.dtype]\n"
        "    store.append(hidden[mask].to(cast))\n",
        10,
        "cast to bfloat16",
    ),
    # the helper's tuple carries the raw hidden states in the slot that is appended
    Invalid(
        _IMP + "def _load_one(hidden, mask):\n"
        "    return int(mask.sum()), hidden[mask]\n"
        "def run(store, hidden, mask):\n"
        "    n, flat = _load_one(hidden, mask)\n"
        "    store.append(flat)\n",
        7,
        "no explicit fp16/fp32 cast",
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
                held = [dtype_held(f, a, scope) for a in dtype_args[:1]]
                if held and held[0] in ("cast", "bf16", "unknown"):
                    return held[0]
                return cast_kind(f, func.value, scope, depth + 1, ext)
            if name in CHAIN:
                return cast_kind(f, func.value, scope, depth + 1, ext)
            if foreign_object(f, func.value, scope):
                return "unknown"  # a method of an object made by another module: not followed
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
        picked = tuple_items(f, expr, scope)
        if picked is not None:
            return combine([cast_kind(f, v, s, depth + 1, ext) for v, s in picked])
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


_FP = compile_lazy(r"\b(float16|float32|float64|half|float|double|fp16|fp32|f16|f32)\b")
_BF = compile_lazy(r"\b(bfloat16|bf16)\b")
_DEVICE = compile_lazy(r"dev|cuda|cpu|gpu|rank|mps|xpu", re.I)


def dtype_held(f, arg: ast.AST, scope: ast.AST, depth: int = 0) -> str:
    """What `.to(arg)` casts to when `arg` is held in a variable: 'cast' (every value it can hold
    is fp16/fp32), 'bf16' (it can hold bfloat16), 'device' (not a dtype), 'unknown' (cannot be
    followed). Follows names, dict literals and `d[k] = v` entries, indexed by a constant or by
    an argparse option (only the keys its `choices` allow)."""
    leaves = _leaves(f, arg, scope, depth)
    if leaves is None:
        return "device" if _DEVICE.search(unparse(arg)) else "unknown"
    kinds = set()
    for leaf in leaves:
        text = unparse(leaf)
        if _BF.search(text):
            kinds.add("bf16")
        elif _FP.search(text):
            kinds.add("cast")
        elif _DEVICE.search(text) or (isinstance(leaf, ast.Constant) and leaf.value is None):
            kinds.add("device")
        else:
            kinds.add("unknown")
    if "bf16" in kinds:
        return "bf16"
    if kinds == {"cast"}:
        return "cast"
    return "device" if kinds == {"device"} else "unknown"


def _leaves(f, expr: ast.AST, scope: ast.AST, depth: int) -> list[ast.AST] | None:
    """The plain values an expression can take (constants, attributes such as torch.float16),
    or None when one of them cannot be followed."""
    if depth > 8:
        return None
    if isinstance(expr, (ast.Constant, ast.Attribute)) and not _is_arg(f, expr):
        return [expr]
    if isinstance(expr, ast.Name):
        vals = f.values_of(expr, scope)
        if vals == [expr]:
            return None
        out: list[ast.AST] = []
        for v in vals:
            got = _leaves(f, v, scope, depth + 1)
            if got is None:
                return None
            out += got
        return out
    if isinstance(expr, ast.Subscript):
        base_key = unparse(expr.value)
        keys = _keys(f, expr.slice, scope)
        entries = _dict_entries(f, expr.value, scope)
        out = []
        if entries is not None:
            for k, v in entries:
                if keys is None or k in keys:
                    got = _leaves(f, v, scope, depth + 1)
                    if got is None:
                        return None
                    out += got
        for (base, k), vals in f.item_assigns.items():
            if base == base_key and (keys is None or k in keys):
                for v in vals:
                    got = _leaves(f, v, scope, depth + 1)
                    if got is None:
                        return None
                    out += got
        return out or None
    return None


def _is_arg(f, expr: ast.AST) -> bool:
    return isinstance(expr, ast.Attribute) and expr.attr in f.dests


def _keys(f, index: ast.AST, scope: ast.AST) -> set | None:
    """The keys an index can be: a constant, or the `choices` of the argparse option it reads;
    None when any key is possible."""
    if isinstance(index, ast.Constant):
        return {index.value}
    if isinstance(index, ast.Attribute) and index.attr in f.dests:
        flag = next((fl for fl in f.flags if fl.dest == index.attr), None)
        return set(flag.choices) if flag is not None and flag.choices else None
    if isinstance(index, ast.Name):
        vals = f.values_of(index, scope)
        if vals != [index]:
            out: set = set()
            for v in vals:
                got = _keys(f, v, scope)
                if got is None:
                    return None
                out |= got
            return out
    return None


def _dict_entries(f, base: ast.AST, scope: ast.AST) -> list[tuple[object, ast.AST]] | None:
    """(key, value) of the dict literals `base` was assigned."""
    vals = f.values_of(base, scope) if isinstance(base, ast.Name) else [base]
    out = []
    for v in vals:
        if isinstance(v, ast.Dict):
            for k, val in zip(v.keys, v.values, strict=False):
                if isinstance(k, ast.Constant):
                    out.append((k.value, val))
    return out if out or any(isinstance(v, ast.Dict) for v in vals) else None


def tuple_items(f, expr: ast.Subscript, scope: ast.AST) -> list[tuple[ast.AST, ast.AST]] | None:
    """`helper(...)[i]` (what `a, b = helper(...)` binds) where the same-module helper returns
    tuples: the i-th element of each returned tuple, in the helper's scope; else None."""
    if not (isinstance(expr.slice, ast.Constant) and isinstance(expr.slice.value, int)):
        return None
    i, value = expr.slice.value, expr.value
    if isinstance(value, ast.Tuple):
        return [(value.elts[i], scope)] if -len(value.elts) <= i < len(value.elts) else None
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
        fn = f.functions.get(value.func.id)
        if fn is None:
            return None
        rets = [n.value for n in ast.walk(fn) if isinstance(n, ast.Return) and n.value is not None]
        if not rets or not all(isinstance(r, ast.Tuple) and len(r.elts) > i for r in rets):
            return None
        return [(r.elts[i], fn) for r in rets]
    return None


def foreign_object(f, recv: ast.AST, scope: ast.AST, depth: int = 0) -> bool:
    """True when `recv` is (or is made by) something imported from the recipe's own modules or
    packages (`from mylab.acts import Extractor`; `import mylab`): its methods are not followed."""
    if depth > 6:
        return False
    root = recv
    while isinstance(root, (ast.Attribute, ast.Call, ast.Subscript)):
        root = root.func if isinstance(root, ast.Call) else root.value
    if not isinstance(root, ast.Name):
        return False
    imp = f.imports.get(root.id)
    if imp is not None:
        return imp[2] > 0 or root.id in _own_names(f)
    for v in f.values_of(root, scope):
        if v is not root and foreign_object(f, v, scope, depth + 1):
            return True
    return False


def _own_names(f) -> set[str]:
    from recipegen.validators.facts_python import _THIRD_PARTY

    return {
        local
        for local, (mod, _attr, level) in f.imports.items()
        if level > 0 or mod.split(".")[0] not in _THIRD_PARTY
    }
