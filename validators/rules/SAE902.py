"""## What it does
Reports a suppression that suppresses nothing: `# noqa: SAE102` in Python or
`# recipegen: disable=SAE206` in shell on a line where that rule reports no finding. Codes of
other tools (`# noqa: E501`) are ignored.

## Why is this bad?
Stale suppressions hide the next real finding on that line and mislead readers about what the
code does.

## Example
```python
x = 1  # noqa: SAE306
```

## Use instead
Delete the comment, or move it to the line the finding is reported on.
"""

from recipegen.validators.model import Invalid, Symptom

CODE = "SAE902"
NAME = "unused-noqa"
SEVERITY = "warning"
SUMMARY = "A noqa / disable comment that suppresses no finding"
GOTCHAS = ()
KIND = "meta"
EXAMPLE_PATH = "train.py"

# --- what the generated pages say (docs/gotchas.md, troubleshooting.md, SKILL.md) ---
SKILL_ROW = "a `noqa`/`disable` comment that silences nothing"
SYMPTOMS = (
    Symptom(
        "Linter messages about the linter",
        "a suppression comment is reported",
        "remove the `# noqa: CODE` / `# recipegen: disable=CODE` that silences nothing",
    ),
)

VALID = [
    "import torch\nc = torch.load('c.pt')  # noqa: SAE306\n",
    "x = 1  # noqa: E501\n",
    {"launch.sh": "python train.py --wandb  # recipegen: disable=SAE206\n"},
]
INVALID = [
    Invalid("x = 1  # noqa: SAE306\n", 1, "unused suppression for SAE306"),
    Invalid(
        {"launch.sh": "echo hi  # recipegen: disable=SAE206\n"}, 1, "unused suppression for SAE206"
    ),
]
