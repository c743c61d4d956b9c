"""## What it does
Reports a file that cannot be parsed: a Python syntax error, unbalanced shell quoting or
substitution, a shell script `bash -n` rejects (when bash is installed), non-UTF-8 bytes, NUL
bytes, nesting too deep to parse, or a file over 5 MB.

## Why is this bad?
No other rule can check it, so a broken script would pass the linter silently and fail on the
cluster instead.

## Example
```python
def main(:
```

## Use instead
Fix the syntax (`python -m py_compile`, `bash -n`) and save the file as UTF-8.
"""

from recipegen.validators.model import Invalid, Symptom

CODE = "SAE901"
NAME = "parse-error"
SEVERITY = "error"
SUMMARY = "The file does not parse (syntax, encoding, NUL bytes, nesting)"
GOTCHAS = ()
KIND = "meta"
EXAMPLE_PATH = "train.py"

# --- what the generated pages say (docs/gotchas.md, troubleshooting.md, SKILL.md) ---
SKILL_ROW = "a file that does not parse (reported, never a crash)"
SYMPTOMS = (
    Symptom(
        "Linter messages about the linter",
        "a file is reported instead of checked",
        "fix the syntax error it names (Python or shell)",
    ),
)

VALID = ["def main():\n    pass\n", {"launch.sh": "echo 'ok'\n"}]
INVALID = [
    Invalid("def main(:\n", 1, "syntax error"),
    Invalid({"launch.sh": "echo 'unterminated\n"}, 1, "unterminated single quote"),
    # bash itself (`bash -n`) is the authority: the statement scanner accepts this one
    Invalid({"launch.sh": "echo start\nif then fi\n"}, 2, "(bash -n): syntax error near"),
    Invalid({"train.py": b"x = '\xff\xfe'\n"}, 1, "not valid UTF-8"),
    Invalid({"train.py": b"x = 1\x00\n"}, 1, "NUL bytes"),
    Invalid("x = " + "(" * 300 + ")" * 300 + "\n", 1, "too many nested"),
]
