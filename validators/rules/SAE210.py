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

from recipegen.validators.model import Invalid

CODE = "SAE210"
NAME = "huggingface-cli-deprecated"
SEVERITY = "warning"
SUMMARY = "huggingface-cli is deprecated; use hf"
GOTCHAS = (11,)
KIND = "shell"
EXAMPLE_PATH = "launch.sh"

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
