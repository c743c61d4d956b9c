"""Write a rendered recipe: refuse to clobber edits, no-op when unchanged, atomic or journalled.

A new recipe folder appears by one rename. An existing one is changed by a journalled
transaction (`<recipe>/.recipegen/pending/`): every new file and a `journal.json` are staged first,
the staging folder is renamed into place (the commit point), then each file is moved over its
target, recipe.yaml last. A write interrupted after the commit point (SIGINT, kill, power loss) is
finished by the next `new`/`update` before anything else; one interrupted before it is dropped."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import provenance as prov
from . import renders
from .errors import GeneratorError
from .render import EXECUTABLE

PENDING = "pending"  # under renders.STATE_DIR: the committed, not yet applied transaction
JOURNAL = "journal.json"


class EditedFilesError(GeneratorError):
    """The output directory holds files changed since they were generated."""

    def __init__(self, directory: Path, edited: list[str]):
        self.edited = edited
        listing = "\n  ".join(edited)
        super().__init__(
            f"{directory} has files that differ from what recipegen wrote there:\n  {listing}\n"
            "nothing was changed (fix: `recipegen update` merges your edits into the new render; "
            "or move your edits into the spec or --set, or pass --force to overwrite them)"
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
        result.edited = _edited(directory, files)
    return result


def _edited(directory: Path, files: dict[str, str]) -> list[str]:
    """Files whose content matches neither recipe.yaml's record nor the target `files` (a file
    already holding its target content is not an edit: an interrupted write left it there)."""
    try:
        record = prov.read(directory)
    except GeneratorError:
        others = sorted(p.name for p in directory.iterdir() if p.name != renders.STATE_DIR)
        return [f"{n} (no valid {prov.RECIPE_FILE} here)" for n in others]
    edited = []
    for name, digest in sorted(record.files.items()):
        current = _sha(directory / name)
        target = files.get(name)
        if target is not None and current == renders.sha256_bytes(target.encode("utf-8")):
            continue
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
    """Write `files` (incl. recipe.yaml) into `directory`. Refuses (changing nothing) when recorded
    files were edited, unless `force`; with `force`, every edited file it replaces (every changed
    file when `keep_all`, e.g. a recipe of another model) is first copied to a backup folder, see
    `backup_files`. Unchanged -> nothing touched. Changes go through `commit` (journalled)."""
    directory = Path(directory)
    finish_pending(directory)
    result = plan(directory, files)
    if result.edited and not force:
        raise EditedFilesError(directory, result.edited)
    if result.noop:
        renders.store(directory, _recorded(files))  # recipes written before the cache existed
        return result
    if directory.is_dir() and (result.edited or keep_all):
        edited = [e.split(" (")[0] for e in result.edited]
        differing = [n for n, st in result.status.items() if st == "changed"]
        result.replaced_edits = [n for n in edited if n in files and (directory / n).is_file()]
        result.backup = backup_files(
            directory, sorted(set(edited) | set(differing if keep_all else []))
        )
    changed = {n: t for n, t in files.items() if result.status[n] != "unchanged"}
    commit(directory, changed, renders_of=files)
    return result


def _recorded(files: dict[str, str]) -> dict[str, str]:
    """The rendered texts recipe.yaml records (every file but recipe.yaml itself)."""
    return {n: t for n, t in files.items() if n != prov.RECIPE_FILE}


def _stage(folder: Path, name: str, text: str) -> None:
    path = folder / name
    path.write_bytes(text.encode("utf-8"))
    path.chmod(0o755 if name in EXECUTABLE else 0o644)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def commit(
    directory: Path,
    files: dict[str, str],
    deletes: list[str] | tuple = (),
    renders_of: dict[str, str] | None = None,
) -> None:
    """Apply a change set: write `files` (recipe.yaml among them, written last), delete `deletes`.
    `renders_of` (default: `files`) are the renders to cache for the next update/diff."""
    directory = Path(directory)
    cached = _recorded(renders_of if renders_of is not None else files)
    if not directory.exists():
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.tmp-", dir=directory.parent))
        try:
            for name, text in files.items():
                _stage(tmp, name, text)
            renders.store(tmp, cached)
            tmp.chmod(0o755)
            os.rename(tmp, directory)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    state = directory / renders.STATE_DIR
    state.mkdir(exist_ok=True)
    renders.store(directory, cached)  # content-addressed: harmless if the write never commits
    staging = Path(tempfile.mkdtemp(prefix=f"{PENDING}.tmp-", dir=state))
    order = sorted(files, key=lambda n: n == prov.RECIPE_FILE)
    journal = {
        "write": order,
        "delete": [n for n in deletes if n not in files],
        "sha256": {n: renders.sha256_bytes(files[n].encode("utf-8")) for n in order},
    }
    try:
        for name in order:
            _stage(staging, name, files[name])
        (staging / JOURNAL).write_text(json.dumps(journal, indent=1) + "\n", encoding="utf-8")
        for path in staging.iterdir():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
        _fsync_dir(staging)
        os.rename(staging, state / PENDING)  # the commit point
        _fsync_dir(state)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    # From here on the journal is authoritative: an interruption is finished by the next run.
    finish_pending(directory)


def _journal(directory: Path, pending: Path) -> dict:
    path = pending / JOURNAL
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        names = list(data["write"]) + list(data["delete"])
        ok = isinstance(data["sha256"], dict) and all(
            isinstance(n, str) and n and "/" not in n and "\\" not in n and not n.startswith(".")
            for n in names
        )
    except (OSError, ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise GeneratorError(
            f"{path}: an interrupted write left a journal that cannot be read, so {directory} "
            f"may hold a mix of old and new files (fix: delete {pending} and re-render with "
            "`recipegen new ... --force`)"
        )
    return data


def finish_pending(directory: Path) -> bool:
    """Finish a write that was interrupted after its commit point (roll forward) and drop staging
    folders of writes interrupted before it. True when something had to be finished."""
    state = Path(directory) / renders.STATE_DIR
    if not state.is_dir():
        return False
    for stale in state.glob(f"{PENDING}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    pending = state / PENDING
    if not pending.is_dir() or pending.is_symlink():
        return False
    journal = _journal(directory, pending)
    for name in journal["write"]:
        staged = pending / name
        if staged.is_file() and not staged.is_symlink():
            os.replace(staged, Path(directory) / name)  # not yet moved before the interruption
    for name in journal["delete"]:
        target = Path(directory) / name
        if target.is_file() and not target.is_symlink():
            target.unlink()
    try:
        keep = set(prov.read(directory).files.values())
    except GeneratorError:
        keep = None
    if keep is not None:
        renders.prune(directory, keep)
    shutil.rmtree(pending)
    return True


def pending_write(directory: Path) -> bool:
    """True when an interrupted write waits to be finished in `directory`."""
    return (Path(directory) / renders.STATE_DIR / PENDING).is_dir()
