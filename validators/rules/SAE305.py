"""## What it does
Reports `metadata.json` being written (literally, or via `finalize()`/`merge_stores()`) inside a
`finally:` block.

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

CODE = "SAE305"
NAME = "metadata-in-finally"
SEVERITY = "error"
SUMMARY = "metadata.json (the completion sentinel) written in a finally: block"
GOTCHAS = (8,)
KIND = "python"
EXAMPLE_PATH = "extract.py"

VALID = [
    "def go(store, meta):\n    run(store)\n    store.finalize(meta)\n",
    "def go(store, meta):\n    try:\n        run(store)\n    finally:\n        store.close()\n",
]
INVALID = [
    "def go(store, meta):\n    try:\n        run(store)\n    finally:\n        store.finalize(meta)\n",
    "import json\ndef go(d, meta):\n    try:\n        run(d)\n    finally:\n"
    "        json.dump(meta, open(d + '/metadata.json', 'w'))\n",
]


def check(ctx):
    for line, what in ctx.facts.finally_writes:
        yield ctx.finding(
            line,
            f"{what} in a `finally:` block marks a failed run complete; "
            "write metadata.json only after success",
        )
