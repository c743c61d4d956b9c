"""One writer per directory: an advisory ``fcntl.flock`` on a lock file inside it.

The lock file holds ``pid=<pid> host=<host> since=<UTC time>`` of the writer that holds it, so a
second writer fails at once with a message naming the holder. The kernel drops the lock when
the holder's process ends (crash or kill included); a lock file left behind by a dead writer is
therefore harmless and simply re-taken.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from pathlib import Path

LOCK_NAME = ".writer.lock"


class LockHeldError(RuntimeError):
    """Another live process holds the writer lock; the message names it."""


class WriterLock:
    """``WriterLock(directory, what).acquire()`` ... ``release()`` (also a context manager)."""

    def __init__(self, directory, what: str = "directory"):
        self.path = Path(directory) / LOCK_NAME
        self.what = what
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> WriterLock:
        if self._fd is not None:
            return self
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(self.path, flags, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise LockHeldError(
                f"{self.what} {self.path.parent} is being written by another process "
                f"({holder or 'holder unknown'}; lock file {self.path}); wait for it to finish or "
                "stop it, or write to another path"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid={os.getpid()} host={socket.gethostname()} since={stamp}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self, remove: bool = False) -> None:
        """Drop the lock; ``remove`` first deletes the lock file (the directory is done)."""
        if self._fd is None:
            return
        try:
            if remove:
                self.path.unlink(missing_ok=True)
        finally:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the descriptor releases the flock

    def __enter__(self) -> WriterLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

    def __del__(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass


def _read_holder(fd: int) -> str:
    try:
        return os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        return ""
