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

import ast

from recipegen.validators.facts_python import last_name
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


def finally_writes(facts) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(line, what) of metadata.json writes / finalize() calls in `finally:` blocks, and
    (line, "helper()") of same-module helpers called there that write it."""
    writes: list[tuple[int, str]] = []
    calls: list[tuple[int, str]] = []
    for stmt in facts.finally_stmts:
        for n in ast.walk(stmt):
            if isinstance(n, ast.Call):
                helper = last_name(n.func)
                if helper in facts.functions and _writes_sentinel(facts, helper, set()):
                    calls.append((n.lineno, helper + "()"))
            if (
                isinstance(n, ast.Constant)
                and isinstance(n.value, str)
                and "metadata.json" in n.value
            ):
                writes.append((n.lineno, "metadata.json"))
            elif isinstance(n, ast.Call) and last_name(n.func) in (
                "finalize",
                "merge_stores",
                "write_metadata",
                "save_metadata",
            ):
                writes.append((n.lineno, last_name(n.func) + "()"))
    return writes, calls


_SENTINEL_CALLS = ("finalize", "merge_stores", "write_metadata", "save_metadata")


def _writes_sentinel(facts, fname: str, seen: set[str]) -> bool:
    """True when function `fname` of this module (or one it calls, transitively) writes
    metadata.json or calls finalize()/merge_stores()."""
    if fname in seen or len(seen) > 50:
        return False
    seen.add(fname)
    for n in ast.walk(facts.functions[fname]):
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and "metadata.json" in n.value:
            return True
        if isinstance(n, ast.Call):
            callee = last_name(n.func)
            if callee in _SENTINEL_CALLS:
                return True
            if callee in facts.functions and _writes_sentinel(facts, callee, seen):
                return True
    return False


def check(ctx):
    writes, calls = finally_writes(ctx.facts)
    for line, what in writes:
        yield ctx.finding(
            line,
            f"{what} in a `finally:` block marks a failed run complete; "
            "write metadata.json only after success",
        )
    for line, helper in calls:
        yield ctx.finding(
            line,
            f"{helper} writes metadata.json (or finalizes the store) from a `finally:` block, "
            "marking a failed run complete; call it only after success",
        )
