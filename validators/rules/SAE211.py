"""## What it does
Reports compressed FASTA (`*.gz`, `<(zcat ...)`, `<(gunzip -c ...)`) fed to a predict CLI.

## Why is this bad?
The Evo2 predict CLI accepts only plain, uncompressed FASTA; it fails (or reads garbage) on
gzip data and on process substitution, after the model has loaded.

## Example
```bash
predict_evo2 --fasta <(zcat seqs.fa.gz) --ckpt-dir ckpt
```

## Use instead
```bash
zcat seqs.fa.gz > seqs.fa
[[ -f preds/metadata.json ]] || predict_evo2 --fasta seqs.fa --ckpt-dir ckpt --output-dir preds
```
"""

from recipegen.validators.lazy_re import compile_lazy
from recipegen.validators.model import Invalid, Symptom

CODE = "SAE211"
NAME = "compressed-fasta-to-predict"
SEVERITY = "error"
SUMMARY = "Compressed FASTA (.gz or <(zcat ...)) passed to a predict CLI"
GOTCHAS = (11,)
KIND = "shell"
EXAMPLE_PATH = "launch.sh"

# --- what the generated pages say (docs/gotchas.md, troubleshooting.md, SKILL.md) ---
SKILL_ROW = "compressed FASTA (`.gz`, `<(zcat ...)`) fed to a predict CLI"
SYMPTOMS = (
    Symptom(
        "Launch and environment",
        "predict CLI fails or reads garbage on `.fa.gz` input",
        "decompress to a plain FASTA file first, chunked to the trained context",
    ),
)

VALID = [
    "zcat seqs.fa.gz > seqs.fa\npredict_evo2 --fasta seqs.fa --ckpt-dir ckpt\n",
    "python extract.py --input seqs.fa.gz\n",
]
INVALID = [
    # seen through launchers
    Invalid(
        "srun -N 2 --ntasks-per-node 4 env A=1 torchrun --nproc_per_node 4 --no-python "
        "predict_evo2 --fasta seqs.fa.gz --output-dir w\n",
        1,
        "plain uncompressed FASTA",
    ),
    Invalid("predict_evo2 --fasta <(zcat seqs.fa.gz) --ckpt-dir ckpt\n", 1, "uncompressed FASTA"),
    Invalid("predict_evo2 --fasta seqs.fa.gz --ckpt-dir ckpt\n", 1, "decompress to a file first"),
]

_SUBST = compile_lazy(r"<\(\s*(zcat|gunzip|gzip|bgzip|pigz|zless)\b")


def check(ctx):
    predicts = {
        id(inv.command) for inv in ctx.facts.invocations if "predict" in inv.target.lower()
    }  # seen through launchers: torchrun --no-python, python -m, srun, env, nohup, timeout
    for cmd in ctx.facts.commands:
        head = " ".join(w.text for w in cmd.words[:3]).lower()
        if "predict" not in head and id(cmd) not in predicts:
            continue
        if _SUBST.search(cmd.text) or any(
            w.text.endswith((".gz", ".bgz", ".zst", ".bz2", ".xz")) for w in cmd.words[1:]
        ):
            yield ctx.finding(
                cmd.line,
                "predict CLIs read plain uncompressed FASTA only; decompress to a file first",
            )
