"""Three-way text merge with `git merge-file` semantics (base = old render, ours = the user's file,
theirs = the new render): `git merge-file` when git is installed, else a Python diff3 that follows
the same rules (changes that overlap or touch conflict unless both sides made the same change)."""

from __future__ import annotations

import difflib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import GeneratorError

MARKER = 7  # conflict marker length, as git writes them


@dataclass(frozen=True)
class Merged:
    """The merged text and the number of conflict blocks in it (0 = clean)."""

    text: str
    conflicts: int


def labels(name: str) -> tuple[str, str, str]:
    """Conflict-marker labels for (ours, base, theirs)."""
    return (f"{name} (yours)", f"{name} (recorded render)", f"{name} (new render)")


def merge3(base: str, ours: str, theirs: str, name: str, *, use_git: bool | None = None) -> Merged:
    """Merge `ours` and `theirs`, both descended from `base`. Raises GeneratorError when the merge
    itself fails (not on conflicts, which are written into the text with standard markers)."""
    if use_git is None:
        use_git = shutil.which("git") is not None
    if use_git:
        return _git_merge(base, ours, theirs, name)
    return python_merge(base, ours, theirs, name)


def _git_merge(base: str, ours: str, theirs: str, name: str) -> Merged:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    # No user or system config: conflict style and marker size are git's defaults everywhere.
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, LC_ALL="C")
    with tempfile.TemporaryDirectory(prefix="recipegen-merge-") as tmp:
        paths = []
        for part, text in (("ours", ours), ("base", base), ("theirs", theirs)):
            path = Path(tmp) / part
            path.write_bytes(text.encode("utf-8"))
            paths.append(str(path))
        cmd = ["git", "merge-file", "-p", "--marker-size", str(MARKER)]
        for label in labels(name):
            cmd += ["-L", label]
        try:
            proc = subprocess.run(cmd + paths, capture_output=True, env=env, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise GeneratorError(f"{name}: `git merge-file` failed to run: {exc}") from None
    # Exit status: the number of conflicts (0..127); anything above is an error.
    if proc.returncode < 0 or proc.returncode > 127:
        err = proc.stderr.decode("utf-8", "replace").strip()
        raise GeneratorError(f"{name}: `git merge-file` failed (status {proc.returncode}): {err}")
    try:
        text = proc.stdout.decode("utf-8")
    except UnicodeDecodeError:
        raise GeneratorError(f"{name}: `git merge-file` produced text that is not UTF-8") from None
    return Merged(text, proc.returncode)


def _hunks(base: list[str], other: list[str]) -> list[tuple[int, int, list[str]]]:
    """Changes from base to other as (base start, base end, replacement lines)."""
    matcher = difflib.SequenceMatcher(None, base, other, autojunk=False)
    return [
        (i1, i2, other[j1:j2]) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"
    ]


def _apply(base: list[str], lo: int, hi: int, hunks) -> list[str]:
    """base[lo:hi] with `hunks` (all inside [lo, hi]) applied."""
    out, pos = [], lo
    for i1, i2, lines in hunks:
        out += base[pos:i1] + lines
        pos = i2
    return out + base[pos:hi]


def python_merge(base: str, ours: str, theirs: str, name: str) -> Merged:
    """diff3 in Python: hunks of both sides that overlap or touch form one region; a region changed
    by one side takes that side, by both sides identically takes it once, else it conflicts."""
    b = base.splitlines(keepends=True)
    o = ours.splitlines(keepends=True)
    t = theirs.splitlines(keepends=True)
    tagged = sorted(
        [(i1, i2, lines, 0) for i1, i2, lines in _hunks(b, o)]
        + [(i1, i2, lines, 1) for i1, i2, lines in _hunks(b, t)],
        key=lambda h: (h[0], h[1]),
    )
    regions: list[list] = []
    for hunk in tagged:
        if regions and hunk[0] <= regions[-1][1]:
            region = regions[-1]
            region[1] = max(region[1], hunk[1])
            region[2].append(hunk)
        else:
            regions.append([hunk[0], hunk[1], [hunk]])
    lab_ours, _, lab_theirs = labels(name)
    out: list[str] = []
    pos, conflicts = 0, 0
    for lo, hi, hunks in regions:
        out += b[pos:lo]
        sides = [[h[:3] for h in hunks if h[3] == side] for side in (0, 1)]
        mine, yours = (_apply(b, lo, hi, s) for s in sides)
        if not sides[1] or mine == yours:
            out += mine
        elif not sides[0]:
            out += yours
        else:
            conflicts += 1
            out.append("<" * MARKER + f" {lab_ours}\n")
            out += _terminated(mine)
            out.append("=" * MARKER + "\n")
            out += _terminated(yours)
            out.append(">" * MARKER + f" {lab_theirs}\n")
        pos = hi
    out += b[pos:]
    return Merged("".join(out), conflicts)


def _terminated(lines: list[str]) -> list[str]:
    """Lines with a final newline, so a conflict marker always starts a line."""
    if lines and not lines[-1].endswith("\n"):
        return lines[:-1] + [lines[-1] + "\n"]
    return lines


def has_conflict_markers(text: str) -> bool:
    """True when `text` still holds a conflict block written by an earlier update."""
    starts = ("<" * MARKER + " ", "=" * MARKER + "\n", ">" * MARKER + " ")
    seen = [any(line.startswith(s) for line in text.splitlines(keepends=True)) for s in starts]
    return all(seen)
