"""## What it does
Reports `huggingface-cli` in shell scripts.

## Why is this bad?
`huggingface-cli` is deprecated in favour of `hf`; new hub versions print warnings and drop
subcommands, so download steps break in fresh environments.

## Example
```bash
huggingface-cli download arcinstitute/evo2_1b_base --local-dir ckpt
```

## Use instead
```bash
hf download arcinstitute/evo2_1b_base --local-dir ckpt
```
"""

from pathlib import PurePosixPath

from recipegen.validators.model import Fact, Invalid, Symptom

CODE = "SAE210"
NAME = "huggingface-cli-deprecated"
SEVERITY = "warning"
SUMMARY = "huggingface-cli is deprecated; use hf"
GOTCHAS = (11,)
KIND = "shell"
EXAMPLE_PATH = "launch.sh"

# --- what the generated pages say (docs/gotchas.md, troubleshooting.md, SKILL.md) ---
SKILL_ROW = "`huggingface-cli` is deprecated: use `hf`"
SYMPTOMS = (
    Symptom(
        "Launch and environment",
        "`huggingface-cli` deprecation warnings or missing command",
        "use `hf download`",
    ),
)
FACTS = {
    11: Fact(
        "Launch script (`launch.sh` and other orchestrators)",
        "Tools and inputs of the Evo2 predict CLI",
        """\
`huggingface-cli` is deprecated in favour of `hf`. The predict CLI reads plain FASTA only (no
`.gz`, no `<(zcat ...)`), and inputs must be cut to the trained context (8,192 bp for Evo2 1B and
7B) because intermediate buffers grow faster than linearly with length.
Rules: **SAE210**, **SAE211**, **SAE213**.
""",
    ),
}

VALID = ["hf download arcinstitute/evo2_1b_base --local-dir ckpt\n"]
INVALID = [
    Invalid("huggingface-cli download arcinstitute/evo2_1b_base --local-dir ckpt\n", 1, "use `hf`")
]


def check(ctx):
    for cmd in ctx.facts.commands:
        for w in cmd.words[:3]:
            if PurePosixPath(w.text).name == "huggingface-cli":
                yield ctx.finding(
                    cmd.line, "`huggingface-cli` is deprecated; use `hf` (e.g. `hf download ...`)"
                )
                break
