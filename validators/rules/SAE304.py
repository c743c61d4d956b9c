"""## What it does
Reports an extractor that writes `.pt` files (`torch.save`, `*.pt` paths) for a later
conversion pass.

Only writes count (`torch.save`, `open(..., "w")`, an output/suffix keyword): a script that
reads the `.pt` files a predict CLI wrote (a glob, a help text) is not reported.

## Why is this bad?
Intermediate `.pt` dumps take about twice the disk of streamed parquet shards, need a separate
conversion job, and legacy pickles later fail under `torch.load(weights_only=True)`.

## Example
```python
torch.save(batch["hidden_embeddings"], f"{out}/batch_{i}.pt")
```

## Use instead
Replace the predict entry point's per-batch writer with one that calls
`store.append(hidden[mask].half())`.
"""

import ast
import re

from recipegen.validators.facts_python import const_of
from recipegen.validators.lazy_re import compile_lazy
from recipegen.validators.model import Fact, Invalid, Symptom
from recipegen.validators.rules._values import predict_calls

CODE = "SAE304"
NAME = "pt-intermediate"
SEVERITY = "warning"
SUMMARY = "An extractor writes .pt intermediates instead of streaming into the store"
GOTCHAS = (14,)
KIND = "python"
EXAMPLE_PATH = "extract.py"

# --- what the generated pages say (docs/gotchas.md, troubleshooting.md, SKILL.md) ---
SKILL_ROW = "an extractor writing `.pt` intermediates instead of streaming into the store"
SYMPTOMS = (
    Symptom(
        "Extraction",
        "disk fills with `.pt` files; a slow conversion pass",
        "stream: replace the predict writer with one that appends to the store",
    ),
)
FACTS = {
    14: Fact(
        "Extractor (`extract.py`)",
        "Stream into the store, no `.pt` files",
        """\
Replace the predict entry point's per-batch writer with one that appends to the store: half the
disk, no conversion pass. Rule: **SAE304**.
""",
    ),
}

_IMP = "import torch\nfrom sae.activation_store import ActivationStore\n"

VALID = [
    _IMP + "def write(store, h, m):\n    store.append(h[m].half())\n",
    # a training script may save checkpoints
    "import torch\nfrom sae.architectures import TopKSAE\nm = TopKSAE(8, 64, 4)\n"
    "torch.save(m.state_dict(), 'checkpoint_final.pt')\n",
    # it only reads the .pt files predict wrote (a glob, a help text), then streams them
    "import glob\nimport argparse\nimport torch\nfrom predict import predict\n"
    "p = argparse.ArgumentParser()\n"
    "p.add_argument('--pattern', default='pred_*.pt', help='glob of the .pt files')\n"
    "predict(output_dir='work')\n"
    "for f in glob.glob('work/*.pt'):\n"
    "    store.append(torch.load(f, weights_only=True)['h'].float())\n",
]
INVALID = [
    Invalid(
        _IMP + "def write(store, h, m, i):\n    store.append(h[m].half())\n"
        "    torch.save(h, f'batch_{i}.pt')\n",
        5,
        "torch.save",
    ),
    Invalid("import predict\npredict.main(output_dir='out', suffix='.pt')\n", 2, "'.pt'"),
]


def check(ctx):
    f = ctx.facts
    if not is_extractor(f):
        return
    seen = set()
    for site in f.called("save"):
        if site.dotted.startswith("torch."):
            seen.add(site.line)
            yield ctx.finding(
                site.line,
                "extractor writes a `.pt` file with torch.save; "
                "stream into the ActivationStore instead",
                site.col,
            )
    if not predict_calls(f):
        return
    for line, s in pt_writes(f):
        if line not in seen:
            seen.add(line)
            yield ctx.finding(
                line,
                f"extractor writes `.pt` output ({s!r}); stream into the ActivationStore instead",
            )


# --- queries of this rule ---
_WRITE_KW = compile_lazy(r"(^|_)(out|output|save|suffix|dest|write|dump)", re.I)

_READERS = {"add_argument", "glob", "rglob", "iglob", "load", "exists", "is_file", "print"}


def pt_writes(f) -> list[tuple[int, str]]:
    """'.pt' strings used where a file is written: `torch.save(x, "a.pt")`, an `open(..., "w")`
    or a keyword naming an output (`suffix=`, `output_file=`); reads (globs, loads, help
    texts, membership tests) do not count."""
    out = []
    for name, sites in f.calls.items():
        for site in sites:
            node = site.node
            parts: list[ast.AST] = []
            if name == "save" and len(node.args) > 1:
                parts.append(node.args[1])
            if name == "open" and any("w" in str(const_of(a)) for a in node.args[1:2]):
                parts.append(node.args[0])
            for k in node.keywords:
                if k.arg and _WRITE_KW.search(k.arg) and name not in _READERS:
                    parts.append(k.value)
            for part in parts:
                for n in ast.walk(part):
                    if isinstance(n, ast.Constant) and isinstance(n.value, str):
                        if n.value.endswith(".pt") and "*" not in n.value:
                            out.append((n.lineno, n.value))
    return sorted(set(out))


def is_extractor(f) -> bool:
    if f.called("TopKSAE") or f.called("Trainer"):
        return False
    return bool(f.store_appends or predict_calls(f))
