"""## What it does
Reports `torch.load(...)` without `weights_only=True`.

## Why is this bad?
Unpickling runs arbitrary code from the file. Our checkpoints never need it; legacy files that
pickle numpy arrays fail under `weights_only=True` (torch >= 2.6), and a converter that swallows
that error exits 0 with an empty output directory. `weights_only=False` is for trusted sources
only: say so with a `# noqa: SAE306` and a reason.

A bare `torch.load(...)` is fine in a project whose own pins require torch >= 2.6
(`dependencies = ["torch>=2.6"]` in the nearest pyproject.toml with a `[project]` table), where
`weights_only=True` is the default; `weights_only=False` is still reported.

## Example
```python
ckpt = torch.load(path, map_location="cpu")
```

## Use instead
```python
ckpt = torch.load(path, map_location="cpu", weights_only=True)
```
"""

from recipegen.validators.model import Fact, Invalid, Symptom

CODE = "SAE306"
NAME = "unsafe-torch-load"
SEVERITY = "error"
SUMMARY = "torch.load without weights_only=True"
GOTCHAS = (17,)
KIND = "python"
EXAMPLE_PATH = "eval.py"

# --- what the generated pages say (docs/gotchas.md, troubleshooting.md, SKILL.md) ---
SKILL_ROW = "`torch.load` without `weights_only=True`"
SYMPTOMS = (
    Symptom(
        "Extraction",
        "legacy checkpoint fails to load, or conversion exits 0 with an empty folder",
        "load with `weights_only=True`; convert a trusted legacy file once, then check the output is not empty",
    ),
)
FACTS = {
    17: Fact(
        "Extractor (`extract.py`)",
        "`torch.load(weights_only=True)`",
        """\
Since torch 2.6 legacy checkpoints that pickle NumPy arrays fail to load this way, and a converter
that swallows the error exits 0 with nothing written. Turn `weights_only` off only for sources you
trust; recipegen's own checkpoints never need it. Rule: **SAE306**.
""",
    ),
}

VALID = [
    "import torch\nckpt = torch.load('c.pt', map_location='cpu', weights_only=True)\n",
    # the project requires torch >= 2.6, where weights_only=True is the default
    {
        "pyproject.toml": '[project]\nname = "r"\ndependencies = ["torch>=2.6,<3", "numpy"]\n',
        "eval.py": "import torch\nckpt = torch.load('c.pt', map_location='cpu')\n",
    },
]
INVALID = [
    Invalid(
        "import torch\nckpt = torch.load('c.pt', map_location='cpu')\n",
        2,
        "pass `weights_only=True`",
    ),
    Invalid(
        "import torch\nckpt = torch.load('c.pt', weights_only=False)\n",
        2,
        "without `weights_only=True`",
    ),
    # torch 2.5 is still allowed: the default there unpickles
    Invalid(
        {
            "pyproject.toml": '[project]\nname = "r"\ndependencies = ["torch>=2.1"]\n',
            "eval.py": "import torch\nckpt = torch.load('c.pt')\n",
        },
        2,
        "pass `weights_only=True`",
        path="eval.py",
    ),
]


def check(ctx):
    for site in ctx.facts.called("load"):
        if site.dotted != "torch.load":
            continue
        wo = next((k.value for k in site.node.keywords if k.arg == "weights_only"), None)
        if wo is not None and getattr(wo, "value", None) is True:
            continue
        if wo is None and ctx.requires_at_least("torch", (2, 6)):
            continue  # the default is weights_only=True there
        yield ctx.finding(
            site.line,
            "`torch.load` without `weights_only=True` unpickles "
            "arbitrary code; pass `weights_only=True`",
            site.col,
        )
