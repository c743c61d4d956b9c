"""Drift check: re-render a recipe from its recipe.yaml and compare it with what is on disk.

The comparison is byte-exact (a `\\r` after a comment makes bash swallow the next line; CRLF
breaks `set -euo pipefail`), files are read without following symlinks, and any file in the
folder that recipegen did not generate is reported: a stray `torch.py` is imported by every
script of the recipe. The user's own files are allowed by `user_files:` in recipe.yaml.
"""

from __future__ import annotations

import difflib
import fnmatch
import os
from pathlib import Path

from recipegen.safe_read import MAX_TEXT_BYTES, FileRefused, kind_of, read_in_tree

from . import provenance as prov
from .errors import printable
from .generate import regenerate
from .render import EXECUTABLE, TemplateSource
from .renders import STATE_DIR
from .write import state_problems

# Never reported: the recipe's default work folder (launch.sh: WORK=<recipe>/work), the
# bytecode caches its scripts leave, a .gitignore, and recipegen's own state (recorded renders).
ALWAYS_ALLOWED = ("work", "__pycache__", ".gitignore", STATE_DIR)
MAX_FILE_BYTES = MAX_TEXT_BYTES
_NOTE = "# control characters are shown escaped (\\r is a carriage return)\n"


def diff_recipe(directory: str | Path, templates: TemplateSource | None = None) -> str:
    """A report of every drift (unified diffs, unknown files); "" when clean.
    Raises GeneratorError when recipe.yaml is missing or invalid."""
    directory = Path(directory)
    record = prov.read(directory)
    rendered = regenerate(record, templates)
    chunks = [line + "\n" for line in state_problems(directory)]
    for name in sorted(rendered.files):
        expected = rendered.files[name].encode("utf-8")
        path = directory / name
        try:
            actual = read_in_tree(directory, name, MAX_FILE_BYTES)
        except FileNotFoundError:
            actual = None
        except FileRefused as exc:
            chunks.append(f"{printable(str(path))}: {exc.reason}; recipegen wrote a regular file\n")
            continue
        if name == prov.RECIPE_FILE and actual is not None:
            # `user_files:` (the last key) is the user's to edit, in any YAML style: compare
            # what precedes it; prov.read has parsed and validated the list itself.
            expected, actual = _before_user_files(expected), _before_user_files(actual)
        if actual == expected:
            if name in EXECUTABLE and not os.access(path, os.X_OK):
                chunks.append(f"{path}: not executable (fix: chmod +x {path})\n")
            continue
        chunks.append(_diff(path, expected, actual))
    for name, kind in unknown_files(directory, rendered.files, record.user_files):
        chunks.append(
            f"{printable(str(directory / name))}: {kind} recipegen did not generate (scripts run "
            "from this folder can import it; fix: remove it, or list it under "
            f"`{prov.USER_FILES}:` in {prov.RECIPE_FILE})\n"
        )
    return "".join(chunks)


def unknown_files(
    directory: Path, generated: dict[str, str] | set[str], user_files: list[str]
) -> list[tuple[str, str]]:
    """(name, what it is) of each entry of `directory` that is neither generated, always
    allowed, nor matched by a `user_files` pattern; sorted."""
    out = []
    with os.scandir(directory) as entries:
        for entry in entries:
            name = entry.name
            if name in generated or name in ALWAYS_ALLOWED:
                continue
            if any(fnmatch.fnmatchcase(name, pattern) for pattern in user_files):
                continue
            mode = entry.stat(follow_symlinks=False).st_mode
            kind = "a file" if entry.is_file(follow_symlinks=False) else kind_of(mode)
            out.append((name, kind))
    return sorted(out)


def _before_user_files(data: bytes) -> bytes:
    at = data.find(b"\n" + prov.USER_FILES.encode() + b":")
    return data if at < 0 else data[: at + 1]


def _show(line: bytes) -> str:
    """One line for the diff: decoded, control characters (but the final newline) escaped."""
    text = line.decode("utf-8", "backslashreplace")
    body, nl = (text[:-1], "\n") if text.endswith("\n") else (text, "\n\\ No newline at end\n")
    shown = "".join(c if c.isprintable() or c == "\t" else repr(c)[1:-1] for c in body)
    return shown + nl


def _diff(path: Path, expected: bytes, actual: bytes | None) -> str:
    old = [_show(x) for x in _lines(expected)]
    new = [] if actual is None else [_show(x) for x in _lines(actual)]
    label = printable(str(path))
    text = "".join(
        difflib.unified_diff(
            old,
            new,
            fromfile=f"{label} (generated)",
            tofile=label + (" (missing)" if actual is None else ""),
        )
    )
    if actual is not None and any(_escaped(x) for x in _lines(actual)):
        text = _NOTE + text
    return text or f"{label}: differs from the generated file\n"


def _lines(data: bytes) -> list[bytes]:
    """Lines split at b"\\n" only (bytes.splitlines would also split at a lone \\r)."""
    parts = data.split(b"\n")
    return [p + b"\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _escaped(line: bytes) -> bool:
    return any(b < 0x20 and b not in (0x09, 0x0A) for b in line)
