"""The recorded render of each recipe file, kept inside the recipe so `update` and `diff` can
reproduce it after the templates changed: `<recipe>/.recipegen/renders/<sha256>.txt`, named by the
sha256 that recipe.yaml records for the file (content-addressed, verified on every read)."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from . import provenance as prov
from .errors import GeneratorError

STATE_DIR = ".recipegen"  # recipegen's own state inside a recipe (renders, pending write)
RENDERS = "renders"
SUFFIX = ".txt"  # a suffix, so tools that sniff shebangs (linters) never treat these as scripts


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def renders_dir(directory: Path) -> Path:
    return Path(directory) / STATE_DIR / RENDERS


def read_regular(path: Path) -> bytes | None:
    """The bytes of a regular file; None when absent. Symlinks and special files are refused."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(st.st_mode):
        raise GeneratorError(
            f"{path}: not a regular file (a symlink or special file); recipegen never follows "
            "those (fix: replace it with a plain file or delete it)"
        )
    return Path(path).read_bytes()


def store(directory: Path, texts: dict[str, str]) -> None:
    """Add each text to the cache (idempotent; a temp file and a rename per new entry)."""
    folder = renders_dir(directory)
    folder.mkdir(parents=True, exist_ok=True)
    for text in texts.values():
        data = text.encode("utf-8")
        path = folder / f"{sha256_bytes(data)}{SUFFIX}"
        if path.is_file() and not path.is_symlink():
            continue
        tmp = folder / f".{path.name}.tmp-{os.getpid()}"
        tmp.write_bytes(data)
        os.replace(tmp, path)


def load(directory: Path, digest: str) -> str | None:
    """The cached text whose sha256 is `digest`; None if absent or corrupted."""
    if (
        not isinstance(digest, str)
        or len(digest) != 64
        or not all(c in "0123456789abcdef" for c in digest)
    ):
        return None
    try:
        data = read_regular(renders_dir(directory) / f"{digest}{SUFFIX}")
    except GeneratorError:
        return None
    if data is None or sha256_bytes(data) != digest:
        return None
    return data.decode("utf-8")


def prune(directory: Path, keep: set[str]) -> None:
    """Remove cached renders recipe.yaml no longer records (and leftover temp files)."""
    folder = renders_dir(directory)
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        if path.name.removesuffix(SUFFIX) not in keep and (path.is_file() or path.is_symlink()):
            path.unlink()


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
