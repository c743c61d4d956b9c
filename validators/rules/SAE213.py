"""## What it does
Reports an Evo2 step whose sequence/chunk length flag (`--seq-length`, `--max-seq-length`,
`--context-length`, `--chunk-size`, `--max-length`) exceeds the model's trained context
(8,192 bp).

## Why is this bad?
Evo2's conv/FFT intermediates grow super-linearly with length: longer inputs run out of memory
or slow to a crawl, and the model never saw such contexts in training.

## Example
```bash
python extract.py --checkpoint evo2_1b_base --chunk-size 32768
```

## Use instead
```bash
[[ -f cache/metadata.json ]] || python extract.py --checkpoint evo2_1b_base --chunk-size 8192 \
  --output cache
```
"""

from recipegen.validators.model import Invalid, Symptom
from recipegen.validators.rules._helpers import flag_pos, int_of

CODE = "SAE213"
NAME = "context-length-exceeded"
SEVERITY = "warning"
SUMMARY = "Evo2 input chunks longer than the trained context (8,192 bp)"
GOTCHAS = (11,)
KIND = "shell"
EXAMPLE_PATH = "launch.sh"

# --- what the generated pages say (docs/gotchas.md, troubleshooting.md, SKILL.md) ---
SKILL_ROW = "Evo2 input chunks longer than the trained context (8,192 bp): out of memory or garbage"
SYMPTOMS = (
    Symptom(
        "Launch and environment",
        "out of memory or a crawl on long Evo2 inputs",
        "chunk inputs to the trained context (`CHUNK_SIZE`, Evo2 1B: 8192 bp)",
    ),
)

VALID = ["python extract.py --checkpoint evo2_1b_base --chunk-size 8192\n"]
INVALID = [
    # seen through launchers
    Invalid(
        "nohup torchrun --nproc_per_node 2 --no-python predict_evo2 --fasta a.fa "
        "--chunk-size 16384 &\n",
        1,
        "`--chunk-size 16384` exceeds",
    ),
    Invalid(
        "python extract.py --checkpoint evo2_1b_base --chunk-size 32768\n",
        1,
        "exceeds Evo2's trained context",
    ),
]

_FLAGS = (
    "--seq-length",
    "--max-seq-length",
    "--context-length",
    "--chunk-size",
    "--max-length",
    "--seq-len",
)
LIMIT = 8192


def check(ctx):
    f = ctx.facts
    for inv in f.invocations:
        if "evo2" not in inv.command.text.lower():
            continue
        for u in inv.flags():
            if u.name in _FLAGS:
                n, _ = int_of(f, u.value)
                if n is not None and n > LIMIT:
                    yield ctx.finding_at(
                        flag_pos(f, inv, u.name),
                        f"`{u.name} {n}` exceeds Evo2's "
                        f"trained context ({LIMIT} bp); chunk inputs to {LIMIT}",
                    )
