"""## What it does
Checks that every value passed to `ActivationStore.append` is explicitly cast to fp16 or fp32
(`.float()`, `.half()`, `.to(torch.float16)`, `.astype(np.float32)`, `dtype=`), following local
variables and helpers. A cast to bfloat16 is always reported.

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

CODE = "SAE301"
NAME = "bf16-append"
SEVERITY = "error"
SUMMARY = "ActivationStore.append without an explicit fp16/fp32 cast (or with a bf16 cast)"
GOTCHAS = (12,)
KIND = "python"
EXAMPLE_PATH = "extract.py"

VALID = [
    "def run(store, hidden, mask):\n    store.append(hidden[mask].float().cpu().numpy())\n",
    "def run(store, hidden, mask):\n    x = hidden[mask].to(torch.float16)\n    store.append(x)\n",
    "items = []\nitems.append(3)\n",
]
INVALID = [
    "def run(store, hidden, mask):\n    store.append(hidden[mask])\n",
    "def run(store, hidden, mask):\n    store.append(hidden[mask].to(torch.bfloat16))\n",
]


def check(ctx):
    f = ctx.facts
    for site in f.store_appends:
        if not site.node.args:
            continue
        kind = f.cast_kind(site.node.args[0], site.scope)
        if kind == "cast":
            continue
        if kind == "bf16":
            msg = "value appended to the store is cast to bfloat16; Arrow/NumPy cannot store it"
        else:
            msg = "value appended to the store has no explicit fp16/fp32 cast"
        yield ctx.finding(site.line, msg + "; append `.to(torch.float16)` or `.float()`", site.col)
