"""## What it does
Checks the token unit a script declares against the model family it names: ESM2 = 1 amino acid
per token (`aa`), CodonFM = 1 codon = 3 nt per token (`codon`), Evo2 = 1 nucleotide per token
(`nt`). It looks at `token_unit = "..."` and `nt_per_token = N` style literals.

## Why is this bad?
Probing labels are per position. A wrong mapping shifts or stretches every label, so AUROCs are
computed against the wrong residues and look like noise (or like signal where there is none).

## Example
```python
CHECKPOINT = "nvidia/codonfm-80m"
NT_PER_TOKEN = 1
```

## Use instead
```python
NT_PER_TOKEN = 3  # CodonFM: one codon per token
```
"""

from recipegen.validators.model import Fact, Invalid, Symptom

CODE = "SAE307"
NAME = "token-unit-mismatch"
SEVERITY = "error"
SUMMARY = "Declared token unit does not match the model family (aa / codon / nt)"
GOTCHAS = (16,)
KIND = "python"
EXAMPLE_PATH = "eval.py"

# --- what the generated pages say (docs/gotchas.md, troubleshooting.md, SKILL.md) ---
SKILL_ROW = "declared token unit does not match the model family (ESM2 aa, CodonFM codon, Evo2 nt): probing labels shift"
SYMPTOMS = (
    Symptom(
        "Extraction",
        "probing AUROC ~0.5 everywhere, labels off by a factor of 3",
        "declare the family's unit: ESM2 `aa`, CodonFM `codon` (3 nt/token), Evo2 `nt`",
    ),
)
FACTS = {
    16: Fact(
        "Extractor (`extract.py`)",
        "Tokens per unit of sequence",
        """\
Evo2's byte tokenizer: one nucleotide per token. CodonFM: one codon (3 nt) per token. ESM2: one
amino acid per token, plus CLS and EOS. Probing labels must use the same mapping, and the spec's
`extraction.token_unit` must match the model family. Rule: **SAE307**.
""",
    ),
}

VALID = [
    "CHECKPOINT = 'facebook/esm2_t6_8M_UR50D'\nTOKEN_UNIT = 'aa'\n",
    "CHECKPOINT = 'nvidia/codonfm-80m'\nNT_PER_TOKEN = 3\n",
]
INVALID = [
    Invalid("CHECKPOINT = 'nvidia/codonfm-80m'\nNT_PER_TOKEN = 1\n", 2, "3 nt per token, not 1"),
    Invalid(
        "CHECKPOINT = 'arcinstitute/evo2_1b_base'\ncfg = dict(token_unit='codon')\n",
        2,
        "token unit 'nt', not 'codon'",
    ),
]

_FAMILIES = {"esm2": ("aa", None), "codonfm": ("codon", 3), "evo2": ("nt", 1)}
_UNIT_NAMES = {"token_unit"}
_NT_NAMES = {"nt_per_token", "bases_per_token", "nucleotides_per_token"}


def _family(strings):
    found = set()
    for _, s in strings:
        low = s.lower().replace("-", "").replace("_", "")
        for fam in _FAMILIES:
            if fam in low:
                found.add(fam)
    return found.pop() if len(found) == 1 else None


def check(ctx):
    f = ctx.facts
    fam = _family(f.strings)
    if fam is None:
        return
    unit, nt = _FAMILIES[fam]
    for name, value in f.named_literals:
        if name in _UNIT_NAMES and isinstance(value.value, str) and value.value != unit:
            yield ctx.finding(value.lineno, f"{fam} uses token unit {unit!r}, not {value.value!r}")
        if name in _NT_NAMES and nt is not None and value.value != nt:
            yield ctx.finding(value.lineno, f"{fam} has {nt} nt per token, not {value.value!r}")
