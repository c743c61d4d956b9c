"""`recipegen update`: re-render a recipe with today's templates and spec, keeping the user's edits.

Per file, a 3-way merge: base = the render recipe.yaml records (kept in `.recipegen/renders/`),
ours = the file on disk, theirs = the new render. Every merge is computed in memory first; the
result is written by one journalled commit (nothing is written when any merge fails), and
recipe.yaml then records the new render, so `check` and `diff` keep showing the user's edits."""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from pathlib import Path

from . import provenance as prov
from . import renders
from .errors import GeneratorError, printable
from .generate import Rendered, generate, regenerate
from .merge import has_conflict_markers, merge3
from .render import TemplateSource
from .write import commit, finish_pending, lock, pending_write, verify_pending


@dataclass
class FileUpdate:
    """What update does to one file: its new text (None = delete / leave absent) and why."""

    name: str
    action: str  # unchanged | updated | merged | conflict | created | removed | kept | restored
    text: str | None
    before: str | None
    conflicts: int = 0

    @property
    def changes_disk(self) -> bool:
        return self.text != self.before


@dataclass
class UpdateResult:
    directory: Path
    rendered: Rendered
    files: list[FileUpdate] = field(default_factory=list)
    finished_pending: bool = False

    @property
    def conflicts(self) -> list[FileUpdate]:
        return [f for f in self.files if f.action == "conflict"]

    @property
    def noop(self) -> bool:
        return not any(f.changes_disk for f in self.files)

    def diff(self) -> str:
        """Unified diff of every file update would change (disk -> result)."""
        chunks = []
        for f in self.files:
            if not f.changes_disk:
                continue
            path = printable(str(self.directory / f.name))
            chunks.append(
                "".join(
                    difflib.unified_diff(
                        (f.before or "").splitlines(keepends=True),
                        (f.text or "").splitlines(keepends=True),
                        fromfile=f"{path}" + (" (absent)" if f.before is None else ""),
                        tofile=f"{path} (after update)" + (" (deleted)" if f.text is None else ""),
                    )
                )
            )
        return "".join(c if c.endswith("\n") else c + "\n" for c in chunks)


def _read_text(directory: Path, name: str) -> str | None:
    data = renders.read_file(directory, name)
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise GeneratorError(
            f"{printable(str(directory / name))}: not UTF-8 text, so it cannot be merged; nothing "
            "was changed (fix: restore the file, or delete it to take the new render)"
        ) from None


def override_key(override: str) -> str:
    """The key of a `--set KEY=VALUE` (the text before the first '=', stripped)."""
    return override.split("=", 1)[0].strip()


def merged_overrides(recorded: list[str], new: list[str] | tuple) -> list[str]:
    """The recorded --set values with each key given again replaced by its new value (the last
    one given wins), so repeating `update --set k=v` records `k=v` once."""
    new = list(new)
    keys = [override_key(o) for o in new]
    latest = [o for i, o in enumerate(new) if keys[i] not in keys[i + 1 :]]
    given = set(keys)
    return [o for o in recorded if override_key(o) not in given] + latest


def new_render(
    record: prov.Provenance,
    *,
    spec_path: str | None,
    overrides: list[str] | tuple,
    size: str | None,
    layer: int | None,
    templates: TemplateSource | None,
) -> Rendered:
    """The recipe as today's templates and spec render it; the recorded --set values are kept
    (applied before the new ones), as are size and layer unless given."""
    merged = merged_overrides(record.overrides, overrides)
    if spec_path:
        keep_layer = layer if layer is not None or size not in (None, record.size) else record.layer
        return generate(
            None,
            size=size or record.size,
            layer=keep_layer,
            spec_path=spec_path,
            overrides=merged,
            templates=templates,
        )
    kept = dataclasses.replace(record, overrides=merged[: len(merged) - len(_latest(overrides))])
    return regenerate(kept, templates, extra_overrides=_latest(overrides), size=size, layer=layer)


def _latest(overrides: list[str] | tuple) -> list[str]:
    return merged_overrides([], overrides)


def _merge_one(name, base, ours, theirs) -> FileUpdate:
    if theirs is None:  # no longer generated
        if ours is None:
            return FileUpdate(name, "unchanged", None, None)
        if base is not None and ours == base:
            return FileUpdate(name, "removed", None, ours)
        return FileUpdate(name, "kept", ours, ours)  # edited (or never ours): left in place
    if ours is None:  # new, or deleted: restored, so `check` and `update` agree
        return FileUpdate(name, "created" if base is None else "restored", theirs, None)
    if ours == theirs or (base is not None and theirs == base):
        return FileUpdate(name, "unchanged", ours, ours)  # nothing new, or already there
    if base is not None and ours == base:
        return FileUpdate(name, "updated", theirs, ours)
    merged = merge3(base or "", ours, theirs, name)
    action = "conflict" if merged.conflicts else "merged"
    return FileUpdate(name, action, merged.text, ours, merged.conflicts)


def plan_update(
    directory: str | Path,
    *,
    spec_path: str | None = None,
    overrides: list[str] | tuple = (),
    size: str | None = None,
    layer: int | None = None,
    templates: TemplateSource | None = None,
) -> UpdateResult:
    """Compute the update in memory (nothing written). Raises GeneratorError (nothing written)
    when recipe.yaml is unusable, a file cannot be read or merged, or a base cannot be found."""
    directory = Path(directory)
    record = prov.read(directory)
    rendered = new_render(
        record,
        spec_path=spec_path,
        overrides=overrides,
        size=size,
        layer=layer,
        templates=templates,
    )
    # A re-render of the recorded inputs with today's templates reproduces the recorded render
    # when the templates did not change: the fallback for recipes written without the cache.
    try:
        same = regenerate(record, templates).files
    except GeneratorError:
        same = {}
    base = renders.recorded_texts(directory, record, same)
    new_files = {n: t for n, t in rendered.files.items() if n != prov.RECIPE_FILE}
    result = UpdateResult(directory, rendered)
    problems = []
    for name in sorted(set(record.files) | set(new_files)):
        ours = _read_text(directory, name)
        if ours is not None and has_conflict_markers(ours):
            problems.append(f"{name}: still holds conflict markers from an earlier update")
            continue
        old = base.get(name)
        if name in record.files and old is None and ours is not None:
            if renders.sha256_bytes(ours.encode("utf-8")) == record.files[name]:
                old = ours  # unedited: the file itself is the recorded render
            else:
                problems.append(
                    f"{name}: edited, and the render recipe.yaml records for it cannot be "
                    f"reproduced (no {renders.STATE_DIR}/{renders.RENDERS} entry)"
                )
                continue
        result.files.append(_merge_one(name, old, ours, new_files.get(name)))
    if problems:
        raise GeneratorError(
            f"{directory}: cannot update; nothing was changed:\n  "
            + "\n  ".join(problems)
            + "\n(fix: resolve conflict blocks (<<<<<<< ... >>>>>>>) by editing the file; for a "
            "missing base, keep a copy of your edits and re-render with `recipegen new ... --force`)"
        )
    old_recipe = _read_text(directory, prov.RECIPE_FILE)
    recipe_text = rendered.files[prov.RECIPE_FILE]
    action = "unchanged" if old_recipe == recipe_text else "updated"
    result.files.append(FileUpdate(prov.RECIPE_FILE, action, recipe_text, old_recipe))
    return result


def update(directory: str | Path, *, dry_run: bool = False, **kwargs) -> UpdateResult:
    """Plan the update and (unless `dry_run`) commit it in one journalled write, under the
    recipe's lock. A pending write is verified (and, unless `dry_run`, finished) first."""
    directory = Path(directory)
    if not directory.is_dir() or directory.is_symlink():
        raise GeneratorError(
            f"{printable(str(directory))}: not a recipe directory (fix: pass the folder holding "
            "recipe.yaml)"
        )
    if dry_run:
        if pending_write(directory):
            verify_pending(directory)
            raise GeneratorError(
                f"{printable(str(directory))}: an interrupted write is pending (fix: run "
                "`recipegen update` without --dry-run to finish it first)"
            )
        renders.real_dir(directory, renders.STATE_DIR, renders.RENDERS)  # refuses a link
        return plan_update(directory, **kwargs)
    with lock(directory, "update"):
        finished = finish_pending(directory)
        result = plan_update(directory, **kwargs)
        result.finished_pending = finished
        renders_of = {n: t for n, t in result.rendered.files.items() if n != prov.RECIPE_FILE}
        writes = {f.name: f.text for f in result.files if f.text is not None and f.changes_disk}
        deletes = [f.name for f in result.files if f.text is None and f.before is not None]
        if writes or deletes or not result.noop:
            commit(directory, writes, deletes, renders_of=renders_of)
        else:
            renders.store(directory, renders_of)
    return result
