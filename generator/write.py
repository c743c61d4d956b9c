"""Write a rendered recipe: refuse to clobber edits, no-op when unchanged, atomic otherwise."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import provenance as prov
from .errors import GeneratorError
from .render import EXECUTABLE


class EditedFilesError(GeneratorError):
    """The output directory holds files changed since they were generated."""

    def __init__(self, directory: Path, edited: list[str]):
        self.edited = edited
        listing = "\n  ".join(edited)
        super().__init__(
            f"{directory} has files that differ from what recipegen wrote there:\n  {listing}\n"
            "nothing was changed (fix: move your edits into the spec or --set, or pass --force "
            "to overwrite them)"
        )


@dataclass
class Plan:
    """What writing would do, file by file: new, changed, unchanged; plus edited files."""

    directory: Path
    status: dict[str, str] = field(default_factory=dict)
    edited: list[str] = field(default_factory=list)
    backup: Path | None = None  # where --force saved the files it replaced
    replaced_edits: list[str] = field(default_factory=list)  # edited files --force replaced

    @property
    def noop(self) -> bool:
        return self.directory.is_dir() and all(s == "unchanged" for s in self.status.values())


def _sha(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def _mode_ok(path: Path, name: str) -> bool:
    return not (name in EXECUTABLE and not os.access(path, os.X_OK))


def plan(directory: Path, files: dict[str, str]) -> Plan:
    """Compare `files` with what is on disk and with the hashes recorded in recipe.yaml."""
    directory = Path(directory)
    result = Plan(directory)
    if directory.exists() and not directory.is_dir():
        raise GeneratorError(
            f"{directory} exists and is not a directory (fix: choose another --out)"
        )
    for name, text in files.items():
        current = _sha(directory / name)
        new = hashlib.sha256(text.encode("utf-8")).hexdigest()
        if current is None:
            result.status[name] = "new"
        elif current == new and _mode_ok(directory / name, name):
            result.status[name] = "unchanged"
        else:
            result.status[name] = "changed"
    if directory.is_dir():
        result.edited = _edited(directory)
    return result


def _edited(directory: Path) -> list[str]:
    """Files whose content no longer matches recipe.yaml (or everything, if it is unreadable)."""
    try:
        record = prov.read(directory)
    except GeneratorError:
        others = sorted(p.name for p in directory.iterdir())
        return [f"{n} (no valid {prov.RECIPE_FILE} here)" for n in others]
    edited = []
    for name, digest in sorted(record.files.items()):
        current = _sha(directory / name)
        if current is None:
            edited.append(f"{name} (deleted)")
        elif current != digest:
            edited.append(name)
    return edited


def backup_files(directory: Path, names: list[str]) -> Path | None:
    """Copy `names` (those that exist as regular files) into a new sibling folder
    `.<dir>.backup-<UTC time>/`; None when there is nothing to keep."""
    keep = [n for n in names if (directory / n).is_file() and not (directory / n).is_symlink()]
    if not keep:
        return None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    dest = directory.parent / f".{directory.name}.backup-{stamp}"
    n = 1
    while dest.exists():
        n += 1
        dest = directory.parent / f".{directory.name}.backup-{stamp}-{n}"
    dest.mkdir(parents=True)
    for name in keep:
        shutil.copy2(directory / name, dest / name)
    return dest


def write(
    directory: Path, files: dict[str, str], *, force: bool = False, keep_all: bool = False
) -> Plan:
    """Write `files` into `directory`. Refuses (changing nothing) when recorded files were edited,
    unless `force`; with `force`, every edited file it replaces (every changed file when
    `keep_all`, e.g. a recipe of another model) is first copied to a backup folder, see
    `backup_files`. Unchanged -> nothing touched. Everything is first written to a temp dir next
    to the destination; a new directory appears by one rename, an existing one gets a rename per
    file, recipe.yaml last."""
    directory = Path(directory)
    result = plan(directory, files)
    if result.edited and not force:
        raise EditedFilesError(directory, result.edited)
    if result.noop:
        return result
    if directory.is_dir() and (result.edited or keep_all):
        edited = [e.split(" (")[0] for e in result.edited]
        changed = [n for n, st in result.status.items() if st == "changed"]
        result.replaced_edits = [n for n in edited if n in files and (directory / n).is_file()]
        result.backup = backup_files(
            directory, sorted(set(edited) | set(changed if keep_all else []))
        )
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.tmp-", dir=directory.parent))
    try:
        for name, text in files.items():
            path = tmp / name
            path.write_bytes(text.encode("utf-8"))
            path.chmod(0o755 if name in EXECUTABLE else 0o644)
        if not directory.exists():
            tmp.chmod(0o755)
            os.rename(tmp, directory)
            return result
        order = sorted(files, key=lambda n: n == prov.RECIPE_FILE)
        for name in order:
            os.replace(tmp / name, directory / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return result
