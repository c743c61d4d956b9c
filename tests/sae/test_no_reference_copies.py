"""Our `sae` runtime shares no literal run of code with the reference library (issue 23).

The reference (``shared/reference/bionemo-sae`` beside the checkout or above it) is a
specification: ours matches its names, signatures, defaults and formats, never its code. Every
``sae/src/sae/**.py`` is compared with every reference ``src/**.py``; a run of ``RUN`` (12) or
more consecutive normalised lines that both contain fails the test.

Normalisation (from ``tokenize``, so formatting never hides a copy):

- a line is one logical Python line (a statement or clause header), its tokens joined by one
  space: indentation, wrapping, spacing and a trailing comma before a closing bracket don't count;
- dropped, so they neither count nor break a run: comments, blank lines, docstrings (a statement
  that is only a string), ``import``/``from`` statements (the same public names force the same
  imports) and trivial lines of at most two tokens (``else:``, ``pass``, ``return x``, ``try:``);
- a run's length is the physical lines it spans (the smaller side), so a 12-line dict literal
  weighs 12, except that a ``def``/``class`` header weighs 1: its parameter list is the
  specification itself (same names, order and defaults).

Renamed locals or rewritten docstrings don't break a run of the remaining identical lines;
comparing renamed code by shape is left to the ``duplicates`` tool (see the issue note).
"""

from __future__ import annotations

import io
import tokenize
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
OURS = REPO / "sae" / "src" / "sae"
RUN = 12
_SKIP = {tokenize.COMMENT, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING}
_CLOSERS = {")", "]", "}"}


def _reference_src() -> Path | None:
    for parent in REPO.parents:
        src = parent / "shared" / "reference" / "bionemo-sae" / "src" / "sae"
        if src.is_dir():
            return src
    return None


@dataclass(frozen=True)
class Line:
    key: str  # the normalised text
    first: int  # physical line span in the file
    last: int
    weight: int


def normalised_lines(source: str) -> list[Line]:
    """The file's counted lines (see the module docstring)."""
    lines: list[Line] = []
    toks: list[tokenize.TokenInfo] = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type in _SKIP:
            continue
        if tok.type not in (tokenize.NEWLINE, tokenize.ENDMARKER):
            toks.append(tok)
            continue
        if toks:
            line = _line(toks)
            if line is not None:
                lines.append(line)
        toks = []
    return lines


def _line(toks: list[tokenize.TokenInfo]) -> Line | None:
    words = [t.string for t in toks]
    if len(words) <= 2 or words[0] in ("import", "from"):
        return None
    if all(t.type == tokenize.STRING for t in toks):  # docstring / bare string
        return None
    kept = [
        w
        for w, nxt in zip(words, [*words[1:], ""], strict=True)
        if not (w == "," and nxt in _CLOSERS)
    ]
    first, last = toks[0].start[0], toks[-1].end[0]
    header = words[0] in ("def", "class") or words[:2] == ["async", "def"]
    return Line(" ".join(kept), first, last, 1 if header else last - first + 1)


@dataclass(frozen=True)
class SharedRun:
    ours: tuple[int, int]
    theirs: tuple[int, int]
    length: int  # weighted lines, the smaller side


def shared_runs(a: list[Line], b: list[Line], min_length: int = RUN) -> list[SharedRun]:
    """Maximal runs of consecutive equal lines of ``a`` and ``b`` weighing ``min_length`` or more."""
    where = defaultdict(list)
    for j, line in enumerate(b):
        where[line.key].append(j)
    ends: dict[tuple[int, int], int] = {}  # (i, j) -> length in lines of the run ending there
    for i, line in enumerate(a):
        for j in where.get(line.key, ()):
            ends[i, j] = ends.get((i - 1, j - 1), 0) + 1
    out = []
    for (i, j), n in ends.items():
        if (i + 1, j + 1) in ends:
            continue  # not maximal: the run goes on
        ra, rb = a[i - n + 1 : i + 1], b[j - n + 1 : j + 1]
        weight = min(sum(x.weight for x in ra), sum(x.weight for x in rb))
        if weight >= min_length:
            out.append(SharedRun((ra[0].first, ra[-1].last), (rb[0].first, rb[-1].last), weight))
    return sorted(out, key=lambda r: r.ours)


def _lines_of(root: Path) -> dict[Path, list[Line]]:
    return {p: normalised_lines(p.read_text()) for p in sorted(root.rglob("*.py"))}


# ---------------------------------------------------------------- the detector itself

_ORIGINAL = '''
def fit(data, steps=10):
    """Fit."""
    total = 0
    for step in range(steps):  # loop
        total += step
        data = data * 2
        data = data + 1
        data = data - 3
        data = data / 4
        data = data ** 2
        print(step, total)
        print(data, steps)
    result = {"total": total, "data": data, "steps": steps}
    return result
'''
_REFORMATTED = '''
import os
def fit(data,
        steps=10,):
    """A rewritten docstring."""
    total=0

    for step in range( steps ):
        total += step
        data = data*2
        data = data+1
        data = data-3
        data = data/4
        data = data**2
        print(step, total)
        print(data, steps)
    result = {
        "total": total,
        "data": data,
        "steps": steps,
    }
    return result
'''


def test_detector_sees_through_formatting_comments_and_docstrings():
    runs = shared_runs(normalised_lines(_REFORMATTED), normalised_lines(_ORIGINAL))
    assert len(runs) == 1
    assert runs[0].length == 12  # def(1) + 10 statements + the dict (1 line in the original)
    assert runs[0].ours == (3, 21)


def test_detector_breaks_runs_at_a_changed_line_and_weighs_headers_once():
    changed = _ORIGINAL.replace("data = data - 3", "data -= 3")
    assert shared_runs(normalised_lines(changed), normalised_lines(_ORIGINAL)) == []
    # a long identical signature alone is the specification, not a copy
    sig = (
        "def f(\n" + "".join(f"    a{i}: int = {i},\n" for i in range(20)) + "):\n    x = a0 + a1\n"
    )
    assert shared_runs(normalised_lines(sig), normalised_lines(sig)) == []
    # ... but a 12-line literal counts its lines
    lit = "X = [\n" + "".join(f"    'name{i}',\n" for i in range(12)) + "]\n"
    assert [r.length for r in shared_runs(normalised_lines(lit), normalised_lines(lit))] == [14]


# ---------------------------------------------------------------- the check


def test_no_run_of_reference_code_in_our_sae():
    ref = _reference_src()
    if ref is None:
        pytest.skip("no reference library (shared/reference/bionemo-sae) beside or above the repo")
    ours, theirs = _lines_of(OURS), _lines_of(ref)
    found = [
        f"{a.relative_to(OURS.parent)}:{r.ours[0]}-{r.ours[1]} ~ reference "
        f"{b.relative_to(ref.parent)}:{r.theirs[0]}-{r.theirs[1]} ({r.length} lines)"
        for a, la in ours.items()
        for b, lb in theirs.items()
        for r in shared_runs(la, lb)
    ]
    assert not found, "runs of reference code (rewrite them in our own structure):\n" + "\n".join(
        found
    )
