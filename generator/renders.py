"""recipegen's state folder inside a recipe (`.recipegen/`), and the recorded renders in it.

The recorded render of each recipe file is kept so `update` and `diff` can reproduce it after the
templates changed: `<recipe>/.recipegen/renders/<sha256>.txt`, named by the sha256 that
recipe.yaml records for the file (content-addressed, verified on every read).

The state folder is committed with the recipe, so a clone can carry anything in it: it is never
followed through a symlink (neither `.recipegen` itself nor anything in it), never written outside
the recipe, and every file in it is read under the one rule of `recipegen.safe_read`."""

from __future__ import annotations

import hashlib
import os
import re
import stat
from pathlib import Path

from recipegen.safe_read import MAX_TEXT_BYTES, FileRefused, kind_of, read_in_tree

from . import provenance as prov
from .errors import GeneratorError, printable

STATE_DIR = ".recipegen"  # recipegen's own state inside a recipe (renders, pending write, lock)
RENDERS = "renders"
SUFFIX = ".txt"  # a suffix, so tools that sniff shebangs (linters) never treat these as scripts
_ENTRY = re.compile(r"[0-9a-f]{64}\.txt")
_TEMP = re.compile(r"\.[0-9a-f]{64}\.txt\.tmp-[0-9]+")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def renders_dir(directory: Path) -> Path:
    return Path(directory) / STATE_DIR / RENDERS


def _link_error(path: Path, mode: int) -> GeneratorError:
    what = "a regular file" if stat.S_ISREG(mode) else kind_of(mode)
    return GeneratorError(
        f"{printable(str(path))}: is {what}, not a folder; recipegen's state folder is never "
        f"followed through a link (fix: remove it, `rm {printable(str(path))}`, and rerun: "
        "recipegen re-creates it)"
    )


def real_dir(directory: Path, *parts: str, create: bool = False) -> Path | None:
    """`directory/parts...` when each part is a real folder (created when `create`), None when
    absent (and not `create`). Raises GeneratorError when one is a symlink or not a folder."""
    path = Path(directory)
    for part in parts:
        path = path / part
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            if not create:
                return None
            try:
                os.mkdir(path, 0o755)
            except FileExistsError:
                pass
            st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode):
            raise _link_error(path, st.st_mode)
    return path


def read_file(directory: Path, name: str) -> bytes | None:
    """The bytes of the recipe file `name` under the one reading rule; None when absent. Raises
    GeneratorError naming the file when it is a symlink, a special file or too large."""
    try:
        return read_in_tree(directory, name, MAX_TEXT_BYTES)
    except FileNotFoundError:
        return None
    except FileRefused as exc:
        raise GeneratorError(
            f"{printable(exc.path)}: {exc.reason}; recipegen never follows a symlink or reads a "
            "special or oversized file, and nothing was changed (fix: replace it with a regular "
            "file, or delete it to take the new render)"
        ) from None


def store(directory: Path, texts: dict[str, str]) -> None:
    """Add each text to the cache (idempotent; a temp file and a rename per new entry). Refuses a
    symlinked state folder instead of writing through it."""
    folder = real_dir(directory, STATE_DIR, RENDERS, create=True)
    for text in texts.values():
        data = text.encode("utf-8")
        name = f"{sha256_bytes(data)}{SUFFIX}"
        try:
            st = os.lstat(folder / name)
        except FileNotFoundError:
            st = None
        if st is not None and stat.S_ISREG(st.st_mode) and load(directory, name[:64]) is not None:
            continue
        tmp = folder / f".{name}.tmp-{os.getpid()}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        fd = os.open(tmp, flags | os.O_EXCL, 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, folder / name)  # replaces a link or a corrupted entry, never follows it


def load(directory: Path, digest: str) -> str | None:
    """The cached text whose sha256 is `digest`; None if absent, corrupted or not a plain file."""
    if not isinstance(digest, str) or not _ENTRY.fullmatch(digest + SUFFIX):
        return None
    try:
        data = read_in_tree(directory, f"{STATE_DIR}/{RENDERS}/{digest}{SUFFIX}", MAX_TEXT_BYTES)
    except (OSError, FileRefused):
        return None
    if sha256_bytes(data) != digest:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def prune(directory: Path, keep: set[str]) -> None:
    """Remove cached renders recipe.yaml no longer records (and leftover temp files). Only our
    own entry names inside the real renders folder are ever removed."""
    folder = real_dir(directory, STATE_DIR, RENDERS)
    if folder is None:
        return
    for name in os.listdir(folder):
        ours = _ENTRY.fullmatch(name) and name.removesuffix(SUFFIX) not in keep
        if ours or _TEMP.fullmatch(name):
            try:
                if not stat.S_ISDIR(os.lstat(folder / name).st_mode):
                    os.unlink(folder / name)  # unlink never follows a link
            except FileNotFoundError:
                pass


def problems(directory: Path) -> list[str]:
    """What is wrong with the renders folder: a link, an entry that is not ours, a corrupted
    entry (content not matching its name). [] when fine or absent."""
    path = renders_dir(directory)
    try:
        folder = real_dir(directory, STATE_DIR, RENDERS)
    except GeneratorError as exc:
        return [str(exc)]
    if folder is None:
        return []
    out = []
    for name in sorted(os.listdir(folder)):
        shown = printable(str(path / name))
        if _TEMP.fullmatch(name):
            continue  # a store interrupted before its rename: removed by the next write
        if not _ENTRY.fullmatch(name):
            out.append(f"{shown}: not a recorded render (fix: remove it)")
            continue
        try:
            data = read_in_tree(directory, f"{STATE_DIR}/{RENDERS}/{name}", MAX_TEXT_BYTES)
        except (OSError, FileRefused) as exc:
            reason = exc.reason if isinstance(exc, FileRefused) else str(exc)
            out.append(f"{shown}: {reason} (fix: remove it)")
            continue
        if sha256_bytes(data) != name.removesuffix(SUFFIX):
            out.append(f"{shown}: content does not match its name (tampered; fix: remove it)")
    return out


def recorded_texts(directory: Path, record: prov.Provenance, rerendered: dict[str, str]) -> dict:
    """{file: text of the render recipe.yaml records} for every file it can reproduce: from the
    cache, else from `rerendered` (a re-render with today's templates) when its hash matches."""
    out = {}
    for name, digest in record.files.items():
        text = load(directory, digest)
        if text is None and name in rerendered:
            candidate = rerendered[name]
            if sha256_bytes(candidate.encode("utf-8")) == digest:
                text = candidate
        if text is not None:
            out[name] = text
    return out
