"""## What it does
Checks that hidden states appended to an `ActivationStore` keep only valid positions: the value
must be selected with a mask or index (`hidden[mask]`, `masked_select`, a slice dropping special
tokens), following local variables and helpers.

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

CODE = "SAE302"
NAME = "unmasked-append"
SEVERITY = "error"
SUMMARY = "Hidden states appended to the store without selecting valid positions"
GOTCHAS = (13,)
KIND = "python"
EXAMPLE_PATH = "extract.py"

VALID = [
    "def run(store, hidden, mask):\n    store.append(hidden[mask].float())\n",
    "def valid(h, m):\n    return h[m.bool()]\n"
    "def run(store, hidden, mask):\n    store.append(valid(hidden, mask).half())\n",
    "def run(store, hidden):\n    store.append(hidden[:, 1:-1].float())\n",
]
INVALID = [
    "def run(store, hidden):\n    store.append(hidden.reshape(-1, hidden.shape[-1]).float())\n",
    "def run(store, out):\n    h = out.hidden_states[0]\n    store.append(h.float())\n",
]


def check(ctx):
    f = ctx.facts
    for site in f.store_appends:
        if site.node.args and not f.is_selected(site.node.args[0], site.scope):
            yield ctx.finding(
                site.line,
                "hidden states appended without selecting valid positions; append "
                "`hidden[mask]` (drop padding and special tokens)",
                site.col,
            )
