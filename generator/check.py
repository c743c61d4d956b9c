"""Drift check: re-render a recipe from its recipe.yaml and diff against what is on disk."""

from __future__ import annotations

import difflib
from pathlib import Path

from . import provenance as prov
from .generate import regenerate
from .render import TemplateSource


def diff_recipe(directory: str | Path, templates: TemplateSource | None = None) -> str:
    """Unified diff (generated -> on disk) of every file that drifted; "" when clean.
    Raises GeneratorError when recipe.yaml is missing or invalid."""
    directory = Path(directory)
    record = prov.read(directory)
    rendered = regenerate(record, templates)
    chunks = []
    for name in sorted(rendered.files):
        expected = rendered.files[name]
        path = directory / name
        try:
            actual = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            actual = None
        except UnicodeDecodeError:
            actual = "<not UTF-8 text>\n"
        if actual == expected:
            continue
        chunks.append(
            "".join(
                difflib.unified_diff(
                    expected.splitlines(keepends=True),
                    [] if actual is None else actual.splitlines(keepends=True),
                    fromfile=f"{path} (generated)",
                    tofile=f"{path}" + (" (missing)" if actual is None else ""),
                )
            )
        )
    return "".join(c if c.endswith("\n") else c + "\n" for c in chunks)
