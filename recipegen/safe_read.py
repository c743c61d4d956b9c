"""Read a file only when it is a regular file of bounded size, without following a final symlink.

Used wherever recipegen reads files it found rather than files named by the user (lint's
directory walk, `check` reading a recipe folder): a symlink to `/dev/zero`, a FIFO or a
multi-gigabyte file must give a named refusal, never a hang or unbounded memory. The file is
opened with O_NOFOLLOW|O_NONBLOCK (a FIFO opens at once instead of waiting for a writer) and the
opened descriptor is fstat-ed, so the checks apply to what is actually read.
"""

from __future__ import annotations

import errno
import os
import stat

_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


class FileRefused(Exception):
    """The path is not something recipegen reads: a symlink, a special file, or too large."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def kind_of(mode: int) -> str:
    """A word for a non-regular file type (for messages)."""
    for test, word in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISLNK, "a symbolic link"),
    ):
        if test(mode):
            return word
    return "not a regular file"


def read_regular(path: str | os.PathLike, max_bytes: int, head: int | None = None) -> bytes:
    """The bytes of `path` (at most `head` bytes when given). Raises FileRefused when `path` is a
    symlink, not a regular file, or larger than `max_bytes`; OSError (e.g. FileNotFoundError)
    otherwise."""
    try:
        fd = os.open(path, _FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # O_NOFOLLOW on a symlink
            raise FileRefused(path, "is a symbolic link (not followed)") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise FileRefused(path, f"is {kind_of(st.st_mode)}, not a regular file")
        if st.st_size > max_bytes:
            raise FileRefused(path, f"is larger than {max_bytes} bytes ({st.st_size})")
        want = max_bytes + 1 if head is None else min(head, max_bytes + 1)
        chunks, got = [], 0
        while got < want:
            chunk = os.read(fd, min(1 << 20, want - got))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        data = b"".join(chunks)
        if head is None and len(data) > max_bytes:  # grew while being read
            raise FileRefused(path, f"is larger than {max_bytes} bytes")
        return data
    finally:
        os.close(fd)


# The one rule for a file recipegen did not just write, inside a folder it was pointed at (a
# recipe, its state folder): every component below `root` is opened relative to its parent with
# O_NOFOLLOW, so neither the file nor any folder on the way is followed through a symlink, and
# the file itself must be a regular file no larger than `max_bytes` (checked before reading).
MAX_TEXT_BYTES = 10_000_000  # a recipe file, a recorded render, a staged write


def _open_dir_in(root: str | os.PathLike, parts: list[str]) -> int:
    """A descriptor of root/parts[0]/.../parts[-1], no component after `root` followed."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    try:
        for i, part in enumerate(parts):
            try:
                nxt = os.open(part, _FLAGS | os.O_DIRECTORY, dir_fd=fd)
            except OSError as exc:
                where = os.path.join(os.fspath(root), *parts[: i + 1])
                if exc.errno == errno.ELOOP:
                    raise FileRefused(where, "is a symbolic link (not followed)") from None
                if exc.errno == errno.ENOTDIR:
                    st = os.stat(part, dir_fd=fd, follow_symlinks=False)
                    raise FileRefused(where, f"is {kind_of(st.st_mode)}, not a folder") from None
                raise
            os.close(fd)
            fd = nxt
        return fd
    except BaseException:
        os.close(fd)
        raise


def _split(rel: str | os.PathLike) -> list[str]:
    parts = [p for p in os.fspath(rel).split(os.sep) if p not in ("", ".")]
    if not parts or ".." in parts or os.path.isabs(os.fspath(rel)):
        raise ValueError(f"{rel!r}: expected a relative path inside the folder, without '..'")
    return parts


def read_in_tree(
    root: str | os.PathLike, rel: str | os.PathLike, max_bytes: int = MAX_TEXT_BYTES
) -> bytes:
    """The bytes of `root/rel`, read under the one rule (see above). Raises FileNotFoundError when
    it (or a folder on the way) is absent, FileRefused for a symlink on the way, a special file
    (FIFO, device, socket, directory) or a file over `max_bytes`."""
    parts = _split(rel)
    dfd = _open_dir_in(root, parts[:-1])
    path = os.path.join(os.fspath(root), *parts)
    try:
        try:
            fd = os.open(parts[-1], _FLAGS, dir_fd=dfd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise FileRefused(path, "is a symbolic link (not followed)") from None
            raise
    finally:
        os.close(dfd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise FileRefused(path, f"is {kind_of(st.st_mode)}, not a regular file")
        if st.st_size > max_bytes:
            raise FileRefused(path, f"is larger than {max_bytes} bytes ({st.st_size})")
        chunks, got = [], 0
        while got <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - got))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        if got > max_bytes:  # grew while being read
            raise FileRefused(path, f"is larger than {max_bytes} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)


def lstat_in_tree(root: str | os.PathLike, rel: str | os.PathLike) -> os.stat_result | None:
    """lstat of `root/rel` with no folder on the way followed; None when absent. Raises
    FileRefused when a folder on the way is a symlink or not a folder."""
    parts = _split(rel)
    try:
        dfd = _open_dir_in(root, parts[:-1])
    except FileNotFoundError:
        return None
    try:
        return os.stat(parts[-1], dir_fd=dfd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    finally:
        os.close(dfd)
