"""## What it does
Reports a file that cannot be parsed: a Python syntax error, unbalanced shell quoting or
substitution, non-UTF-8 bytes, NUL bytes, nesting too deep to parse, or a file over 5 MB.

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

CODE = "SAE901"
NAME = "parse-error"
SEVERITY = "error"
SUMMARY = "The file does not parse (syntax, encoding, NUL bytes, nesting)"
GOTCHAS = ()
KIND = "meta"
EXAMPLE_PATH = "train.py"

VALID = ["def main():\n    pass\n", {"launch.sh": "echo 'ok'\n"}]
INVALID = [
    "def main(:\n",
    {"launch.sh": "echo 'unterminated\n"},
    {"train.py": b"x = '\xff\xfe'\n"},
    {"train.py": b"x = 1\x00\n"},
    "x = " + "(" * 300 + ")" * 300 + "\n",
]
