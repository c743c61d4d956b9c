"""## What it does
Checks that each extraction step (`extract.py`, or a model's predict CLI) is skipped when its
own `metadata.json` sentinel exists: `[[ -f "$CACHE/metadata.json" ]] || python extract.py ...`,
or inside `if [[ ! -f "$CACHE/metadata.json" ]]; then ... fi`. A guard on a different
directory's sentinel is reported too.

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

from recipegen.validators.rules._helpers import script_name

CODE = "SAE209"
NAME = "unguarded-extract"
SEVERITY = "warning"
SUMMARY = "An extraction step is not guarded by its metadata.json sentinel"
GOTCHAS = (8,)
KIND = "shell"
EXAMPLE_PATH = "launch.sh"

VALID = [
    '[[ -f "$CACHE/metadata.json" ]] || python extract.py --output "$CACHE"\n',
    'if [[ ! -f "$CACHE/metadata.json" ]]; then\n  python extract.py \\\n'
    '    --output "$CACHE"\nfi\n',
    'extract() {\n  python extract.py --output "$1"\n}\n'
    '[[ -f "$C/metadata.json" ]] || extract "$C"\n',
]
INVALID = [
    'python extract.py --output "$CACHE"\n',
    '[[ -f "$OTHER/metadata.json" ]] || python extract.py --output "$CACHE"\n',
]

_OUT = ("--output", "--output-dir", "--cache-dir", "--out")


def _is_extract(inv):
    name = script_name(inv) or inv.program
    return "extract" in name or ("predict" in inv.program and inv.script is None)


def check(ctx):
    f = ctx.facts
    for inv in f.invocations:
        if not _is_extract(inv):
            continue
        guards = [g for g in inv.command.guards if g.path.text.endswith("metadata.json")]
        if not guards and inv.command.function:
            for c in f.commands:
                if c.words and c.words[0].raw == inv.command.function:
                    guards.extend(g for g in c.guards if g.path.text.endswith("metadata.json"))
        if not guards:
            yield ctx.finding(
                inv.line,
                "extraction is not guarded by its sentinel; prefix it "
                'with `[[ -f "$OUT/metadata.json" ]] ||`',
            )
            continue
        out = next((u.value for u in inv.flags() if u.name in _OUT and u.value), None)
        if out is None or "$1" in out.raw or inv.command.function:
            continue
        if not any(
            g.path.raw.startswith(out.raw.rstrip("/") + "/")
            or g.path.text.startswith(out.text.rstrip("/") + "/")
            for g in guards
        ):
            yield ctx.finding(
                inv.line,
                f"extraction writes {out.raw} but is guarded by "
                f"{guards[0].path.raw}; guard it with its own sentinel",
            )
