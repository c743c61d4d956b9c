"""Mutation-based generator of hostile Python and shell inputs for the linter (issue 7 part 3).

Run the full campaign as a script: `python tests/lint/fuzz_inputs.py 10000` (exit 1 on a crash
or a missed parse error). The test suite runs a few hundred of the same inputs.
"""

from __future__ import annotations

import ast
import random
import sys
import warnings
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"


def seeds() -> list[tuple[str, bytes]]:
    """(kind, content) seeds: the fixture recipes plus every rule example."""
    from recipegen.validators.registry import all_rules

    out = []
    for p in sorted(FIXTURES.rglob("*")):
        if p.suffix in (".py", ".sh"):
            out.append(("python" if p.suffix == ".py" else "shell", p.read_bytes()))
    for r in all_rules():
        for ex in r.VALID + r.INVALID:
            items = ex.items() if isinstance(ex, dict) else [(r.example_path, ex)]
            for name, text in items:
                data = text if isinstance(text, bytes) else text.encode()
                out.append(("python" if name.endswith(".py") else "shell", data))
    return out


def _nest(kind: str, depth: int) -> bytes:
    if kind == "python":
        choice = depth % 3
        if choice == 0:
            return b"x = " + b"(" * depth + b"1" + b")" * depth + b"\n"
        if choice == 1:
            return b"x = " + b"[" * depth + b"]" * depth + b"\n"
        lines = [b"    " * i + b"if x:" for i in range(min(depth, 120))]
        return b"\n".join(lines) + b"\n" + b"    " * min(depth, 120) + b"pass\n"
    return b"echo " + b'"$(' * depth + b"true" + b')"' * depth + b"\n"


def mutate(rng: random.Random, kind: str, data: bytes) -> bytes:
    """Apply 1-3 random mutations."""
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(11)
        n = len(data)
        if op == 0 and n:  # truncate
            data = data[: rng.randrange(n)]
        elif op == 1 and n:  # random byte flips
            b = bytearray(data)
            for _ in range(rng.randint(1, 8)):
                b[rng.randrange(n)] = rng.randrange(256)
            data = bytes(b)
        elif op == 2:  # insert syntax-significant characters
            chunk = rng.choice(
                [
                    b"'",
                    b'"',
                    b"(",
                    b")",
                    b"{",
                    b"}",
                    b"\\",
                    b"$(",
                    b"`",
                    b"[[",
                    b"#",
                    b"\n",
                    b":",
                    b"\t",
                    b"<<EOF\n",
                    b"${",
                    b"&&",
                    b"|",
                    b"&",
                ]
            )
            i = rng.randrange(n + 1)
            data = data[:i] + chunk * rng.randint(1, 3) + data[i:]
        elif op == 3 and n:  # delete a span
            i = rng.randrange(n)
            data = data[:i] + data[i + rng.randint(1, 40) :]
        elif op == 4 and n:  # duplicate a span
            i = rng.randrange(n)
            data = data[:i] + data[i : i + rng.randint(1, 200)] * 2 + data[i:]
        elif op == 5:  # deep nesting
            data = data + _nest(kind, rng.choice([50, 150, 400, 1000, 5000]))
        elif op == 6:  # CRLF line endings
            data = data.replace(b"\n", b"\r\n")
        elif op == 7:  # non-UTF-8 (latin-1 / lone continuation bytes)
            i = rng.randrange(n + 1)
            data = data[:i] + rng.choice([b"\xe9", b"\xff\xfe", b"\x80", b"\xc3"]) + data[i:]
        elif op == 8:  # NUL bytes or a BOM
            data = (
                rng.choice([b"\x00", b"\xef\xbb\xbf"]) + data
                if rng.random() < 0.5
                else (data + b"\x00")
            )
        elif op == 9:  # splice two lines out of order
            lines = data.split(b"\n")
            rng.shuffle(lines)
            data = b"\n".join(lines)
        else:  # random printable noise
            i = rng.randrange(n + 1)
            noise = bytes(rng.randrange(32, 127) for _ in range(rng.randint(1, 30)))
            data = data[:i] + noise + data[i:]
    return data


def python_unparsable(data: bytes) -> bool:
    """Independent oracle: does CPython refuse this file?"""
    if b"\x00" in data:
        return True
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return True
    return False


def generate(count: int, seed: int = 0) -> list[tuple[str, bytes]]:
    rng = random.Random(seed)
    base = seeds()
    out = []
    for _ in range(count):
        kind, data = rng.choice(base)
        out.append((kind, mutate(rng, kind, data)))
    return out


def check(kind: str, data: bytes) -> str | None:
    """Lint one input; return a problem description, or None when the linter behaved."""
    from recipegen.validators.engine import lint_sources

    name = "train.py" if kind == "python" else "launch.sh"
    try:
        findings = lint_sources({name: data})
    except Exception as exc:  # the property under test: nothing escapes
        return f"crash: {type(exc).__name__}: {exc}"
    got_901 = any(f.code == "SAE901" for f in findings)
    if kind == "python" and python_unparsable(data) != got_901:
        return f"SAE901 mismatch (reported={got_901})"
    if kind == "shell" and (b"\x00" in data or not _utf8(data)) and not got_901:
        return "SAE901 missing for a NUL/non-UTF-8 shell file"
    return None


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8-sig")
        return True
    except UnicodeDecodeError:
        return False


def main(argv: list[str]) -> int:
    count = int(argv[1]) if len(argv) > 1 else 10_000
    problems = 0
    for i, (kind, data) in enumerate(generate(count, seed=int(argv[2]) if len(argv) > 2 else 0)):
        problem = check(kind, data)
        if problem:
            problems += 1
            print(f"input {i} ({kind}, {len(data)} bytes): {problem}")
    print(f"{count} inputs, {problems} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
