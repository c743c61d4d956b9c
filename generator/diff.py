"""`recipegen diff`: the user's edits, as a unified diff against the render recipe.yaml records
(unlike `check`, which compares with what today's templates would render)."""

from __future__ import annotations

import difflib
from pathlib import Path

from . import provenance as prov
from . import renders
from .errors import GeneratorError, printable
from .generate import regenerate
from .render import TemplateSource
from .write import state_problems


def edits_diff(directory: str | Path, templates: TemplateSource | None = None) -> str:
    """Unified diff (recorded render -> file on disk) of every edited file; "" when none.
    Raises GeneratorError when recipe.yaml is unusable or an edited file's render is unknown."""
    directory = Path(directory)
    record = prov.read(directory)
    problems = state_problems(directory)
    if problems:
        raise GeneratorError(
            f"{printable(str(directory))}: its state folder ({renders.STATE_DIR}/) needs attention first, "
            "so there is no trusted recorded render to diff against:\n  " + "\n  ".join(problems)
        )
    try:
        same = regenerate(record, templates).files
    except GeneratorError:
        same = {}
    recorded = renders.recorded_texts(directory, record, same)
    chunks, unknown = [], []
    for name, digest in sorted(record.files.items()):
        path = printable(str(directory / name))
        data = renders.read_file(directory, name)
        if data is not None and renders.sha256_bytes(data) == digest:
            continue
        if name not in recorded:
            unknown.append(name)
            continue
        try:
            actual = None if data is None else data.decode("utf-8")
        except UnicodeDecodeError:
            actual = "<not UTF-8 text>\n"
        chunks.append(
            "".join(
                difflib.unified_diff(
                    recorded[name].splitlines(keepends=True),
                    [] if actual is None else actual.splitlines(keepends=True),
                    fromfile=f"{path} (recorded render)",
                    tofile=f"{path}" + (" (deleted)" if actual is None else ""),
                )
            )
        )
    if unknown:
        raise GeneratorError(
            f"{directory}: edited file(s) {', '.join(unknown)} whose recorded render cannot be "
            f"reproduced (no {renders.STATE_DIR}/{renders.RENDERS} entry and the templates changed) "
            "(fix: `recipegen check` shows them against today's render instead)"
        )
    return "".join(c if c.endswith("\n") else c + "\n" for c in chunks)
