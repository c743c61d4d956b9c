"""## What it does
Reports `metadata.json` being written (literally, or via `finalize()`/`merge_stores()`) inside a
`finally:` block.

Calls in the `finally:` block to functions of the same module are followed, transitively.

## Why is this bad?
`metadata.json` is the completion sentinel: launch scripts skip extraction when it exists and
training trusts the store. Written in `finally:`, a crashed or killed extraction looks complete.

## Example
```python
try:
    run_extraction(store)
finally:
    store.finalize(metadata)
```

## Use instead
```python
run_extraction(store)
store.finalize(metadata)  # only reached on success
```
"""

from recipegen.validators.model import Invalid, Symptom

CODE = "SAE305"
NAME = "metadata-in-finally"
SEVERITY = "error"
SUMMARY = "metadata.json (the completion sentinel) written in a finally: block"
GOTCHAS = (8, 23)
KIND = "python"
EXAMPLE_PATH = "extract.py"

# --- what the generated pages say (docs/gotchas.md, troubleshooting.md, SKILL.md) ---
SKILL_ROW = "`metadata.json` written in a `finally:` block: a crashed extraction looks complete"
SYMPTOMS = (
    Symptom(
        "Extraction",
        "a crashed extraction is skipped on rerun as if complete",
        "write `metadata.json` last in `finalize()`, never in `finally:`; delete the half-written cache",
    ),
)

VALID = [
    "def go(store, meta):\n    run(store)\n    store.finalize(meta)\n",
    "def go(store, meta):\n    try:\n        run(store)\n    finally:\n        store.close()\n",
    "def close(store):\n    store.flush()\n"
    "def go(store):\n    try:\n        run(store)\n    finally:\n        close(store)\n",
]
INVALID = [
    Invalid(
        "def go(store, meta):\n    try:\n        run(store)\n    finally:\n        store.finalize(meta)\n",
        5,
        "finalize() in a `finally:` block",
    ),
    Invalid(
        "import json\ndef go(d, meta):\n    try:\n        run(d)\n    finally:\n"
        "        json.dump(meta, open(d + '/metadata.json', 'w'))\n",
        6,
        "metadata.json in a `finally:` block",
    ),
    # through helpers of the same module, transitively
    Invalid(
        "import json\ndef mark(d):\n    json.dump({}, open(d + '/metadata.json', 'w'))\n"
        "def close(d):\n    mark(d)\n"
        "def go(d):\n    try:\n        run(d)\n    finally:\n        close(d)\n",
        10,
        "close() writes metadata.json",
    ),
]


def check(ctx):
    for line, what in ctx.facts.finally_writes:
        yield ctx.finding(
            line,
            f"{what} in a `finally:` block marks a failed run complete; "
            "write metadata.json only after success",
        )
    for line, helper in ctx.facts.finally_calls:
        yield ctx.finding(
            line,
            f"{helper} writes metadata.json (or finalizes the store) from a `finally:` block, "
            "marking a failed run complete; call it only after success",
        )
