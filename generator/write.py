"""Write a rendered recipe: refuse to clobber edits, no-op when unchanged, atomic or journalled.

A new recipe folder appears by one rename. An existing one is changed by a journalled
transaction (`<recipe>/.recipegen/pending/`): every new file and a `journal.json` are staged first,
the staging folder is renamed into place (the commit point), then each file is moved over its
target, recipe.yaml last. A write interrupted after the commit point (SIGINT, kill, power loss) is
finished by the next `new`/`update` before anything else; one interrupted before it is dropped.

A pending write is verified before it is trusted: the journal must name this very folder (its
device and inode, so a `pending/` that arrived with a copy or a clone is refused), list only
names recipegen writes, and every staged file must be a regular file whose sha256 the journal
records. Writers of one recipe exclude each other with an advisory lock (`lock`)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import socket
import stat
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from recipegen.safe_read import MAX_TEXT_BYTES, FileRefused, kind_of, read_in_tree

from . import provenance as prov
from . import renders
from .errors import GeneratorError, printable
from .render import EXECUTABLE

PENDING = "pending"  # under renders.STATE_DIR: the committed, not yet applied transaction
JOURNAL = "journal.json"
LOCK = "lock"  # under renders.STATE_DIR: held (flock) by the one writer of the recipe
STATE_ENTRIES = (renders.RENDERS, PENDING, LOCK)  # what the state folder may hold


def _p(path) -> str:
    return printable(str(path))


class EditedFilesError(GeneratorError):
    """The output directory holds files changed since they were generated."""

    def __init__(self, directory: Path, edited: list[str]):
        self.edited = edited
        listing = "\n  ".join(printable(e) for e in edited)
        super().__init__(
            f"{_p(directory)} has files that differ from what recipegen wrote there:\n  {listing}\n"
            "nothing was changed (fix: `recipegen update` merges your edits into the new render; "
            "or move your edits into the spec or --set, or pass --force to overwrite them)"
        )


class PartialWriteError(GeneratorError):
    """A committed write could not be finished: some files are written, the rest are pending."""


@dataclass
class Plan:
    """What writing would do, file by file: new, changed, unchanged, blocked; plus edited files."""

    directory: Path
    status: dict[str, str] = field(default_factory=dict)
    edited: list[str] = field(default_factory=list)
    blocked: dict[str, str] = field(default_factory=dict)  # name -> what is in the way
    backup: Path | None = None  # where --force saved the files it replaced
    replaced_edits: list[str] = field(default_factory=list)  # edited files --force replaced

    @property
    def noop(self) -> bool:
        return self.directory.is_dir() and all(s == "unchanged" for s in self.status.values())


def disk_state(directory: Path, name: str) -> tuple[str | None, str | None]:
    """(sha256 of the file, None), (None, None) when absent, or (None, why it is not read): a
    symlink (never followed), a directory, a FIFO or device, a file over the size cap."""
    try:
        data = read_in_tree(directory, name, MAX_TEXT_BYTES)
    except FileNotFoundError:
        return None, None
    except FileRefused as exc:
        return None, exc.reason
    return renders.sha256_bytes(data), None


def _mode_ok(path: Path, name: str) -> bool:
    return not (name in EXECUTABLE and not os.access(path, os.X_OK))


def plan(directory: Path, files: dict[str, str]) -> Plan:
    """Compare `files` with what is on disk and with the hashes recorded in recipe.yaml. Reads
    nothing but regular files (see `disk_state`); anything else in the way is `blocked`."""
    directory = Path(directory)
    result = Plan(directory)
    if directory.is_symlink():
        raise GeneratorError(
            f"{_p(directory)} is a symbolic link; recipegen writes a recipe only into a real "
            "folder, never through a link (fix: remove the link, or pass its target's parent as "
            "--out)"
        )
    if directory.exists() and not directory.is_dir():
        raise GeneratorError(
            f"{_p(directory)} exists and is not a directory (fix: choose another --out)"
        )
    is_dir = directory.is_dir()
    for name, text in files.items():
        current, refused = disk_state(directory, name) if is_dir else (None, None)
        new = renders.sha256_bytes(text.encode("utf-8"))
        if refused and "larger than" not in refused:
            result.status[name] = "blocked"
            result.blocked[name] = refused
        elif refused:
            result.status[name] = "changed"
        elif current is None:
            result.status[name] = "new"
        elif current == new and _mode_ok(directory / name, name):
            result.status[name] = "unchanged"
        else:
            result.status[name] = "changed"
    if is_dir:
        result.edited = _edited(directory, files, result.blocked)
    return result


def _edited(directory: Path, files: dict[str, str], blocked: dict[str, str]) -> list[str]:
    """Files whose content matches neither recipe.yaml's record nor the target `files` (a file
    already holding its target content is not an edit: an interrupted write left it there)."""
    try:
        record = prov.read(directory)
    except GeneratorError:
        others = sorted(n for n in os.listdir(directory) if n != renders.STATE_DIR)
        return [f"{printable(n)} (no valid {prov.RECIPE_FILE} here)" for n in others]
    edited = []
    for name, digest in sorted(record.files.items()):
        if name in blocked or not prov.valid_file_name(name):
            continue
        current, refused = disk_state(directory, name)
        if refused:
            edited.append(f"{name} ({refused})")
            continue
        target = files.get(name)
        if target is not None and current == renders.sha256_bytes(target.encode("utf-8")):
            continue
        if current is None:
            edited.append(f"{name} (deleted)")
        elif current != digest:
            edited.append(name)
    return edited


def blocked_error(directory: Path, blocked: dict[str, str], force: bool) -> GeneratorError:
    listing = "\n  ".join(f"{printable(n)}: {why}" for n, why in sorted(blocked.items()))
    hint = (
        "move each one away (a folder is never replaced)"
        if force
        else "move each one away (a folder is never replaced); --force replaces a link or "
        "special file itself, never what it points to"
    )
    return GeneratorError(
        f"{_p(directory)}: where recipegen writes a file there is something it does not read or "
        f"overwrite:\n  {listing}\nnothing was changed (fix: {hint})"
    )


def backup_files(directory: Path, names: list[str]) -> Path | None:
    """Keep `names` (those that are regular files) in a new sibling folder
    `.<dir>.backup-<UTC time>/` (a hard link, else a copy); None when there is nothing to keep."""
    keep = [n for n in names if stat.S_ISREG(_lstat_mode(directory / n))]
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
        try:
            os.link(directory / name, dest / name, follow_symlinks=False)
        except OSError:
            shutil.copy2(directory / name, dest / name, follow_symlinks=False)
    return dest


def _lstat_mode(path: Path) -> int:
    try:
        return os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return 0


@contextlib.contextmanager
def lock(directory: Path, command: str):
    """Hold the recipe's advisory lock (`.recipegen/lock`, fcntl.flock) for one writer; a second
    writer fails at once with a GeneratorError naming the holder. The lock file is removed on
    release (a writer that locked a file already unlinked retries on the new one)."""
    directory = Path(directory)
    state = renders.real_dir(directory, renders.STATE_DIR, create=True)
    path = state / LOCK
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    while True:
        try:
            fd = os.open(path, flags, 0o644)
        except OSError as exc:
            raise GeneratorError(
                f"{_p(path)}: cannot open the recipe's lock file: {exc.strerror} (fix: remove "
                f"it if it is not a plain file, `rm {_p(path)}`)"
            ) from None
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise GeneratorError(f"{_p(path)}: is {kind_of(st.st_mode)} (fix: remove it)")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 300, 0).decode("utf-8", "replace").strip() or "unknown"
            os.close(fd)
            raise GeneratorError(
                f"{_p(directory)} is being written by another recipegen ({printable(holder)}); "
                "nothing was changed (fix: wait until it finishes, then rerun)"
            ) from None
        try:
            same = os.stat(path, follow_symlinks=False).st_ino == st.st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the previous holder removed that file while we waited for it: retry
    try:
        os.ftruncate(fd, 0)
        holder = (
            f"pid {os.getpid()} on {socket.gethostname()}, `recipegen {command}` since "
            f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n"
        )
        os.pwrite(fd, holder.encode("utf-8"), 0)
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(fd)


def write(
    directory: Path, files: dict[str, str], *, force: bool = False, keep_all: bool = False
) -> Plan:
    """Write `files` (incl. recipe.yaml) into `directory`. Refuses (changing nothing) when recorded
    files were edited, unless `force`; with `force`, every edited file it replaces (every changed
    file when `keep_all`, e.g. a recipe of another model) is first kept in a backup folder, see
    `backup_files`. Unchanged -> nothing touched. Changes go through `commit` (journalled), under
    the recipe's lock."""
    directory = Path(directory)
    if not directory.is_dir():
        result = plan(directory, files)
        commit(directory, files, renders_of=files)
        return result
    if not pending_write(directory):  # refused, or nothing to do: the folder stays untouched
        result = plan(directory, files)
        _refuse(directory, result, force)
        if result.noop and _cached(directory, files):
            return result
    with lock(directory, "new"):
        finish_pending(directory)
        result = plan(directory, files)
        _refuse(directory, result, force)
        if result.noop:
            renders.store(directory, _recorded(files))  # recipes written before the cache existed
            return result
        if result.edited or result.blocked or keep_all:
            edited = [e.split(" (")[0] for e in result.edited]
            differing = [n for n, st in result.status.items() if st == "changed"]
            result.replaced_edits = sorted(
                {n for n in edited if n in files and (directory / n).is_file()}
                | set(result.blocked)
            )
            result.backup = backup_files(
                directory, sorted(set(edited) | set(differing if keep_all else []))
            )
        changed = {n: t for n, t in files.items() if result.status[n] != "unchanged"}
        commit(directory, changed, renders_of=files)
    return result


def _refuse(directory: Path, result: Plan, force: bool) -> None:
    if any(why.startswith("is a directory") for why in result.blocked.values()) or (
        result.blocked and not force
    ):
        raise blocked_error(directory, result.blocked, force)
    if result.edited and not force:
        raise EditedFilesError(directory, result.edited)


def _cached(directory: Path, files: dict[str, str]) -> bool:
    """True when every render of `files` is already in the recipe's cache."""
    digests = {renders.sha256_bytes(t.encode("utf-8")) for t in _recorded(files).values()}
    try:
        return all(renders.load(directory, d) is not None for d in digests)
    except GeneratorError:
        return False


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


def _identity(directory: Path) -> list[int]:
    st = os.stat(directory)
    return [st.st_dev, st.st_ino]


def commit(
    directory: Path,
    files: dict[str, str],
    deletes: list[str] | tuple = (),
    renders_of: dict[str, str] | None = None,
) -> None:
    """Apply a change set: write `files` (recipe.yaml among them, written last), delete `deletes`.
    `renders_of` (default: `files`) are the renders to cache for the next update/diff. Call it
    under `lock` for an existing directory."""
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
            try:
                os.rename(tmp, directory)
            except OSError:
                if directory.exists():
                    raise GeneratorError(
                        f"{_p(directory)} was created by someone else while this recipe was "
                        "rendered; nothing was changed (fix: rerun)"
                    ) from None
                raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    for name in list(files) + list(deletes):  # what the journal accepts, before the commit point
        if not prov.valid_file_name(name):
            raise GeneratorError(f"{printable(name)}: not a name recipegen writes")
    state = renders.real_dir(directory, renders.STATE_DIR, create=True)
    renders.store(directory, cached)  # content-addressed: harmless if the write never commits
    staging = Path(tempfile.mkdtemp(prefix=f"{PENDING}.tmp-", dir=state))
    order = sorted(files, key=lambda n: n == prov.RECIPE_FILE)
    journal = {
        "write": order,
        "delete": [n for n in deletes if n not in files],
        "sha256": {n: renders.sha256_bytes(files[n].encode("utf-8")) for n in order},
        "recipe_dir": _identity(directory),
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


def _untrusted(directory: Path, pending: Path, why: str) -> GeneratorError:
    return GeneratorError(
        f"{_p(pending)}: a pending write that recipegen cannot trust ({why}); nothing was "
        f"changed (fix: if you did not interrupt a write here, delete it, `rm -r {_p(pending)}`, "
        f"then `recipegen check {_p(directory)}` shows the state of the recipe and `recipegen "
        "update` or `recipegen new ... --force` re-renders it)"
    )


def verify_pending(directory: Path) -> dict | None:
    """The journal of the pending write, verified; None when there is none. Raises
    GeneratorError when it cannot be trusted: a link, a journal that is unreadable, lists names
    recipegen never writes, or belongs to another folder (a copy, a clone); a staged file that
    is not a regular file or does not match the journal's sha256; an unexpected entry."""
    directory = Path(directory)
    state = renders.real_dir(directory, renders.STATE_DIR)
    if state is None:
        return None
    pending = state / PENDING
    mode = _lstat_mode(pending)
    if not mode:
        return None
    if not stat.S_ISDIR(mode):
        raise _untrusted(directory, pending, f"it is {kind_of(mode)}, not a folder")
    rel = f"{renders.STATE_DIR}/{PENDING}"
    try:
        data = json.loads(read_in_tree(directory, f"{rel}/{JOURNAL}", 1_000_000))
        names = list(data["write"]) + list(data["delete"])
        digests = data["sha256"]
        ok = (
            isinstance(digests, dict)
            and all(prov.valid_file_name(n) for n in names)
            and all(isinstance(digests.get(n), str) for n in data["write"])
        )
        ident = data.get("recipe_dir")
    except FileRefused as exc:
        raise _untrusted(directory, pending, f"{JOURNAL} {exc.reason}") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        ok, ident = False, None
    if not ok:
        raise _untrusted(directory, pending, f"its {JOURNAL} cannot be read")
    if ident != _identity(directory):
        raise _untrusted(
            directory, pending, "its journal was written for another folder: it came with a copy"
        )
    for entry in sorted(os.listdir(pending)):
        if entry == JOURNAL:
            continue
        if entry not in data["write"]:
            raise _untrusted(directory, pending, f"unexpected entry {printable(entry)!r}")
        try:
            staged = read_in_tree(directory, f"{rel}/{entry}", MAX_TEXT_BYTES)
        except (OSError, FileRefused) as exc:
            reason = exc.reason if isinstance(exc, FileRefused) else str(exc)
            raise _untrusted(directory, pending, f"staged {printable(entry)} {reason}") from None
        if renders.sha256_bytes(staged) != digests[entry]:
            raise _untrusted(
                directory, pending, f"staged {printable(entry)} does not match the journal's sha256"
            )
    return data


def finish_pending(directory: Path) -> bool:
    """Finish a write that was interrupted after its commit point (roll forward, after
    `verify_pending`) and drop staging folders of writes interrupted before it. True when
    something had to be finished. Raises PartialWriteError naming what was and was not written
    when a file cannot be moved into place (the write stays pending for the next run)."""
    directory = Path(directory)
    state = renders.real_dir(directory, renders.STATE_DIR)
    if state is None:
        return False
    for stale in os.listdir(state):
        if stale.startswith(f"{PENDING}.tmp-"):
            if stat.S_ISDIR(_lstat_mode(state / stale)):
                shutil.rmtree(state / stale, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(state / stale)
    journal = verify_pending(directory)
    if journal is None:
        return False
    pending = state / PENDING
    done, failed = [], None
    for name in journal["write"]:
        staged = pending / name
        if stat.S_ISREG(_lstat_mode(staged)):
            try:
                os.replace(staged, directory / name)  # not yet moved before the interruption
            except OSError as exc:
                failed = (name, exc)
                break
            done.append(name)
    if failed is not None:
        name, exc = failed
        left = journal["write"][journal["write"].index(name) :]
        raise PartialWriteError(
            f"{_p(directory)}: written: {', '.join(done) or 'nothing'}; could not write "
            f"{printable(name)}: {exc.strerror or exc}; still pending: {', '.join(left)} "
            f"(recipe.yaml is written last, so the recipe records the old render until it "
            f"finishes) (fix: make {_p(directory / name)} writable, then rerun `recipegen update "
            f"{_p(directory)}` to finish the write)"
        )
    for name in journal["delete"]:
        target = directory / name
        if stat.S_ISREG(_lstat_mode(target)):
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
    """True when an interrupted write (or something in its place) waits in `directory`."""
    return bool(_lstat_mode(Path(directory) / renders.STATE_DIR / PENDING))


def state_problems(directory: Path) -> list[str]:
    """Findings about the state folder, for `check`: a link in place of it or of anything in it,
    an unexpected entry, a corrupted recorded render, a pending write (trusted or not)."""
    directory = Path(directory)
    try:
        state = renders.real_dir(directory, renders.STATE_DIR)
    except GeneratorError as exc:
        return [str(exc)]
    if state is None:
        return []
    out = []
    for entry in sorted(os.listdir(state)):
        mode = _lstat_mode(state / entry)
        if entry == LOCK and not stat.S_ISREG(mode):
            out.append(f"{_p(state / entry)}: is {kind_of(mode)}, not a lock file (fix: remove it)")
            continue
        if entry in STATE_ENTRIES or entry.startswith(f"{PENDING}.tmp-"):
            continue
        out.append(
            f"{_p(state / entry)}: not something recipegen keeps in its state folder "
            f"(fix: remove it)"
        )
    out += renders.problems(directory)
    try:
        journal = verify_pending(directory)
    except GeneratorError as exc:
        out.append(str(exc))
    else:
        if journal is not None:
            out.append(
                f"{_p(state / PENDING)}: an interrupted write is pending, so the recipe may hold "
                f"a mix of old and new files (fix: `recipegen update {_p(directory)}` finishes it)"
            )
    return out
