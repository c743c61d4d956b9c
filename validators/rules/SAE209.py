"""## What it does
Checks that each extraction step (`extract.py`, or a model's predict CLI) is skipped when its
own `metadata.json` sentinel exists: `[[ -f "$CACHE/metadata.json" ]] || python extract.py ...`,
or inside `if [[ ! -f "$CACHE/metadata.json" ]]; then ... fi`. A guard on a different
directory's sentinel is reported too.

A guard inside the called script counts: an extract script that exits early when
`<output>/metadata.json` exists needs no shell guard. A guard on anything else (a `.pt` glob,
the output directory) is reported the same way in every shape (`[ -e ]`, `ls`, `compgen -G`):
those exist after a crashed run too.

## Why is this bad?
Extraction is the longest step. Unguarded, every rerun of the launch script (after a training
crash, a sweep, a pre-emption) redoes hours of work or overwrites a good cache.
`metadata.json` is written last, so it marks a complete store. Guards check existence, not
provenance: after changing model, layer or input, delete the output directory.

## Example
```bash
python extract.py --input seqs.fasta --output "$CACHE"
```

## Use instead
```bash
[[ -f "$CACHE/metadata.json" ]] || python extract.py --input seqs.fasta --output "$CACHE"
```
"""

import ast

from recipegen.validators.facts_python import dotted, unparse
from recipegen.validators.model import Fact, Invalid, Symptom
from recipegen.validators.rules._helpers import script_name

CODE = "SAE209"
NAME = "unguarded-extract"
SEVERITY = "warning"
SUMMARY = "An extraction step is not guarded by its metadata.json sentinel"
GOTCHAS = (8,)
KIND = "shell"
EXAMPLE_PATH = "launch.sh"

# --- what the generated pages say (docs/gotchas.md, troubleshooting.md, SKILL.md) ---
SKILL_ROW = "an extraction step not guarded by its `metadata.json` sentinel"
SYMPTOMS = (
    Symptom(
        "Launch and environment",
        "extraction reruns every launch, or a changed model reuses the old cache",
        'guard with `[[ -f "$CACHE/metadata.json" ]] ||`; delete the cache after changing model, layer or input',
    ),
)
FACTS = {
    8: Fact(
        "Launch script (`launch.sh` and other orchestrators)",
        "Each long step is guarded by its own sentinel",
        """\
`finalize()` writes an activation store's `metadata.json` last, so
`[[ -f $DIR/metadata.json ]] || extract ...` skips only finished work. The guard checks that the
file exists, not what produced it: after changing model, layer or input, delete the cache.
Writing the sentinel from a `finally:` block makes a crashed run look finished.
Rules: **SAE209** (unguarded extraction), **SAE305** (sentinel in `finally:`).
""",
    ),
}

_SELF_GUARDED = (
    "import sys\nfrom pathlib import Path\nimport argparse\n"
    "p = argparse.ArgumentParser()\np.add_argument('--output')\na = p.parse_args()\n"
    "if (Path(a.output) / 'metadata.json').exists():\n    sys.exit(0)\n"
)

VALID = [
    '[[ -f "$CACHE/metadata.json" ]] || python extract.py --output "$CACHE"\n',
    'if [[ ! -f "$CACHE/metadata.json" ]]; then\n  python extract.py \\\n'
    '    --output "$CACHE"\nfi\n',
    'extract() {\n  python extract.py --output "$1"\n}\n'
    '[[ -f "$C/metadata.json" ]] || extract "$C"\n',
    {"launch.sh": 'python extract.py --output "$CACHE"\n', "extract.py": _SELF_GUARDED},
    # an early exit when the sentinel exists guards what follows (function, loop, file)
    'run_extract() {\n  if [[ -f "$1/metadata.json" ]]; then\n    return 0\n  fi\n'
    '  python extract.py --output "$1"\n}\nrun_extract "$OUT"\n',
    'for s in train eval; do\n  [[ -f "$W/$s/metadata.json" ]] && continue\n'
    '  python extract.py --split "$s" --output "$W/$s"\ndone\n',
]
INVALID = [
    # the extractor writes .npy files and no metadata.json: suggest writing one, not a guard on it
    Invalid(
        {
            "launch.sh": 'python extract.py --output "$CACHE"\n',
            "extract.py": "import numpy as np\nimport sys\nnp.save(sys.argv[-1] + '/acts.npy', 0)\n",
        },
        1,
        "extract.py writes no metadata.json (so a metadata.json guard would never skip)",
    ),
    # a predict CLI started through a launcher is still an extraction (torchrun --no-python)
    Invalid(
        'OUT=work/preds\ncompgen -G "$OUT/predictions__*.pt" >/dev/null || '
        'torchrun --nproc_per_node 4 --no-python predict_evo2 --fasta in.fa --output-dir "$OUT"\n',
        2,
        "guarded by `$OUT/predictions__*.pt`",
    ),
    Invalid(
        "timeout 2h nohup env CUDA_VISIBLE_DEVICES=0 python -m evo2.predict --output-dir w\n",
        1,
        "not guarded by its sentinel",
    ),
    Invalid('python extract.py --output "$CACHE"\n', 1, "not guarded"),
    Invalid(
        '[[ -f "$OTHER/metadata.json" ]] || python extract.py --output "$CACHE"\n',
        1,
        "its own sentinel",
    ),
    Invalid(
        'compgen -G "$OUT/*.pt" > /dev/null || python extract.py --output "$OUT"\n',
        1,
        "guarded by `$OUT/*.pt`",
    ),
    Invalid(
        'if ! ls "$OUT"/*.pt > /dev/null 2>&1; then\n  python extract.py --output "$OUT"\nfi\n',
        2,
        "guarded by `$OUT/*.pt`",
    ),
    Invalid(
        '[ -e "$OUT"/shard_0.pt ] || python extract.py --output "$OUT"\n',
        1,
        "not by its metadata.json sentinel",
    ),
    Invalid(
        {
            "launch.sh": 'python extract.py --output "$CACHE"\n',
            "extract.py": "from sae.activation_store import ActivationStore\n"
            "ActivationStore('c').finalize()\n",
        },
        1,
        "extract.py does not skip",
    ),
]

_OUT = ("--output", "--output-dir", "--cache-dir", "--out", "--out-dir")
_FIX = 'guard it with `[[ -f "$OUT/metadata.json" ]] ||`'


def _is_extract(inv):
    """An extraction step: a script named like extract, or a predict CLI, seen through any
    launcher (`torchrun ... --no-python predict_evo2`, `python -m`, `srun`, `env`, `timeout`)."""
    name = inv.target or script_name(inv) or inv.program
    return "extract" in name or ("predict" in name and inv.script is None)


def check(ctx):
    f = ctx.facts
    for inv in f.invocations:
        if not _is_extract(inv) or (inv.script is None and inv.program in f.functions):
            continue  # a call of a shell function: its body's extraction is what is checked
        target = ctx.target(inv)
        if target is not None and exits_when_complete(target) is not None:
            continue  # the script skips itself when its metadata.json exists
        guards = list(inv.command.guards)
        if not guards and inv.command.function:
            for c in f.commands:
                if c.words and c.words[0].raw == inv.command.function:
                    guards.extend(c.guards)
        sentinels = [g for g in guards if g.path.text.endswith("metadata.json")]
        if not sentinels and target is not None and not writes_metadata(target):
            name = script_name(inv)
            yield ctx.finding(
                inv.line,
                f"extraction is not guarded by a completion sentinel, and {name} writes no "
                "metadata.json (so a metadata.json guard would never skip); have it write "
                "one last (`ActivationStore.finalize()`), then guard on that file",
            )
            continue
        if not sentinels:
            if guards:
                msg = (
                    f"extraction is guarded by `{guards[0].path.raw}`, which a crashed run leaves "
                    f"behind, not by its metadata.json sentinel; {_FIX}"
                )
            elif target is not None:
                msg = (
                    f"extraction is not guarded by its sentinel and {script_name(inv)} does not "
                    f"skip a complete output; {_FIX}"
                )
            else:
                msg = f"extraction is not guarded by its sentinel; {_FIX}"
            yield ctx.finding(inv.line, msg)
            continue
        out = next((u.value for u in inv.flags() if u.name in _OUT and u.value), None)
        if out is None or "$1" in out.raw or inv.command.function:
            continue
        if not any(
            g.path.raw.startswith(out.raw.rstrip("/") + "/")
            or g.path.text.startswith(out.text.rstrip("/") + "/")
            for g in sentinels
        ):
            yield ctx.finding(
                inv.line,
                f"extraction writes {out.raw} but is guarded by "
                f"{sentinels[0].path.raw}; guard it with its own sentinel",
            )


# --- queries of this rule ---
_EXITS = {"sys.exit", "exit", "quit", "os._exit", "raise SystemExit"}


def exits_when_complete(f) -> int | None:
    """Line of an early exit taken when the output's metadata.json exists, else None."""
    if f._exit_line is None:
        f._exit_line = _find_exit(f) or 0
    return f._exit_line or None


def _find_exit(f) -> int | None:
    if not any(s.endswith("metadata.json") for _, s in f.strings):
        return None
    names = _sentinel_names(f)
    for node in f.ifs:
        if not _exits(node.body) or not _mentions(node.test, names):
            continue
        return node.lineno
    return None


def _sentinel_names(f) -> set[str]:
    """Names assigned (directly or through other names) a path ending in metadata.json."""
    names: set[str] = set()
    for _ in range(5):
        before = len(names)
        for (_, name), vals in f.assigns.items():
            if name not in names and any(_mentions(v, names) for v in vals):
                names.add(name)
        if len(names) == before:
            break
    return names


def _mentions(expr: ast.AST, names: set[str]) -> bool:
    for n in ast.walk(expr):
        if isinstance(n, ast.Constant) and isinstance(n.value, str):
            if n.value.endswith("metadata.json"):
                return True
        elif isinstance(n, ast.Name) and n.id in names:
            return True
    return False


def _exits(body: list[ast.stmt]) -> bool:
    """The block returns, exits or raises SystemExit."""
    for stmt in body:
        for n in ast.walk(stmt):
            if isinstance(n, ast.Return) or (
                isinstance(n, ast.Raise) and "SystemExit" in unparse(n)
            ):
                return True
            if isinstance(n, ast.Call) and dotted(n.func) in _EXITS:
                return True
    return False


_STORE_WRITERS = ("finalize", "merge_stores", "ActivationStore", "write_metadata", "save_metadata")


def writes_metadata(f) -> bool:
    """True when a script writes a store's metadata.json: names the file, or builds, finalizes
    or merges an ActivationStore (directly or through a sibling helper it imports)."""
    if any(s.endswith("metadata.json") for _, s in f.strings):
        return True
    if any(f.called(name) for name in _STORE_WRITERS):
        return True
    return any(f.own_import(name) for name in f.imports)  # a sibling may write it: assume so
