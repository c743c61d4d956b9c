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
