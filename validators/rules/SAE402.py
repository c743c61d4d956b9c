"""## What it does
Reports an `assert` that demands variance explained above 95% (or FVU below 0.05) as a success
criterion.

## Why is this bad?
Healthy SAEs have FVU well below 1 and dead % trending to ~20%. Variance explained above 95%
usually means a bug (input norms, normalisation, dead latents), not a great SAE; a test that
demands it rewards the bug.

## Example
```python
assert result.variance_explained > 0.99
```

## Use instead
```python
assert result.fvu < 1.0 and result.dead_pct < 50.0
if result.variance_explained > 0.95:
    warnings.warn("variance explained > 95%: check input norms and dead latents")
```
"""

import ast

from recipegen.validators.model import Fact, Invalid, Symptom

CODE = "SAE402"
NAME = "suspicious-ve-target"
SEVERITY = "warning"
SUMMARY = "An assert treats variance explained > 95% as success"
GOTCHAS = (19,)
KIND = "python"
EXAMPLE_PATH = "eval.py"

# --- what the generated pages say (docs/gotchas.md, troubleshooting.md, SKILL.md) ---
SKILL_ROW = "a test or check that demands variance explained > 95% rewards a bug"
SYMPTOMS = (
    Symptom(
        "Evaluation",
        "a test passes only when variance explained > 95%",
        "assert healthy ranges (FVU below 1, dead % falling), and treat VE > 95% as a bug to investigate ([eval.md](eval.md))",
    ),
)
FACTS = {
    19: Fact(
        "Evaluation and sanity",
        "What healthy training looks like",
        """\
Loss falls, FVU stays below 1, dead latents trend towards about 20% (a jump to about 95% around
step 1k that recovers by 5-6k is normal with AuxK). Variance explained above 95% usually means a
bug (input norms, normalisation, dead latents), not a great SAE. Rule: **SAE402**.
""",
    ),
}

VALID = [
    "assert r.fvu < 1.0\nif r.variance_explained > 0.95:\n    print('suspicious')\n",
    "assert r['variance_explained'] > 0.5\n",
]
INVALID = [
    Invalid("assert r.variance_explained > 0.99\n", 1, "variance explained > 95%"),
    Invalid("assert r['fvu'] < 0.01\n", 1, "assert FVU < 1"),
]


def _metric(node):
    if isinstance(node, ast.Attribute):
        return node.attr.lower()
    if isinstance(node, ast.Name):
        return node.id.lower()
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        return str(node.slice.value).lower()
    return ""


def check(ctx):
    for a in ctx.facts.asserts:
        for node in ast.walk(a.test):
            if not isinstance(node, ast.Compare) or len(node.ops) != 1:
                continue
            left, op, right = node.left, node.ops[0], node.comparators[0]
            if not isinstance(right, ast.Constant) or not isinstance(right.value, (int, float)):
                continue
            try:
                name, val = _metric(left), float(right.value)
            except OverflowError:
                continue
            ve = (
                ("variance_explained" in name or name in ("ve", "var_exp"))
                and isinstance(op, (ast.Gt, ast.GtE))
                and val >= 0.95
            )
            fvu = "fvu" in name and isinstance(op, (ast.Lt, ast.LtE)) and val <= 0.05
            if ve or fvu:
                yield ctx.finding(
                    node.lineno,
                    "variance explained > 95% usually signals a bug "
                    "(input norms, normalisation, dead latents); assert FVU < 1 "
                    "and a sane dead % instead",
                    node.col_offset + 1,
                )
