"""`bash -n`: the real shell's verdict on whether a script parses (SAE901 when it does not).

The statement scanner and bashlex accept some scripts bash rejects (`if then fi`); bash itself is
the authority. It only parses (`-n` never runs a command); the script goes in on stdin, so no
path is opened on the user's behalf. Without bash on PATH, or when it takes too long, nothing is
reported.
"""

from __future__ import annotations

from functools import lru_cache

from recipegen.validators.lazy_re import compile_lazy

_ERROR = compile_lazy(r"^/dev/stdin: line (\d+): (.*)$")
_TIMEOUT_S = 10.0


@lru_cache(maxsize=1)
def _bash() -> str | None:
    import shutil

    return shutil.which("bash")


def _run(text: str) -> tuple[int, bytes] | None:
    bash = _bash()
    if bash is None:
        return None
    import subprocess  # only when a shell file is linted

    try:
        proc = subprocess.run(
            [bash, "--norc", "--noprofile", "-n", "/dev/stdin"],
            input=text.encode("utf-8"),
            capture_output=True,
            timeout=_TIMEOUT_S,
            env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"},
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.returncode, proc.stderr


def syntax_error(text: str) -> tuple[int, str] | None:
    """(line, bash's message) when `bash -n` rejects `text`, else None."""
    return _verdict(_run(text))


_PIPE_BYTES = 65536  # what a pipe holds on Linux: a script this small is written at once
_SPAWN_FIRST = 2  # the first small scripts start without a thread pool (a one-file run needs none)


def _spawn(text: str):
    """Start `bash -n` on a small script without waiting (no thread: the script fits the pipe,
    so writing it never blocks); returns a function that waits for (status, stderr)."""
    bash = _bash()
    import subprocess

    try:
        proc = subprocess.Popen(
            [bash, "--norc", "--noprofile", "-n", "/dev/stdin"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"},
        )
    except OSError:
        return lambda: None
    try:
        proc.stdin.write(text.encode("utf-8"))
    except OSError:  # bash exited early
        pass
    try:
        proc.stdin.close()
    except OSError:
        pass
    proc.stdin = None  # written and closed: communicate() only reads stderr

    done: list = []

    def wait() -> tuple[int, bytes] | None:
        if not done:  # waited for once (the verdict, or Prefetch's exit reaping it)
            try:
                _, err = proc.communicate(timeout=_TIMEOUT_S)
                done.append((proc.returncode, err))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                done.append(None)
        return done[0]

    return wait


class Prefetch:
    """Runs `bash -n` for the next few shell files while the caller parses other files;
    `start(text)` returns a verdict function for `_Unit`. The first small scripts run as child
    processes started at once (no thread pool to import and start for a one-file run); later
    ones, and larger ones (which would block on the pipe), go to worker threads."""

    window = 8  # files ahead

    def __enter__(self) -> Prefetch:
        self._pool = None
        self._children: list = []
        return self

    def start(self, text: str):
        if _bash() is None:
            return syntax_error
        if len(self._children) < _SPAWN_FIRST and len(text) * 4 <= _PIPE_BYTES:
            result = _spawn(text)  # at most 4 bytes a character in UTF-8: fits the pipe
            self._children.append(result)
        else:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="bash-n")
            result = self._pool.submit(_run, text).result

        def verdict(same_text: str) -> tuple[int, str] | None:
            return _verdict(result()) if same_text == text else syntax_error(same_text)

        return verdict

    def __exit__(self, *exc: object) -> None:
        for wait in self._children:  # a verdict nobody asked for (the file did not parse)
            wait()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


def _verdict(ran: tuple[int, bytes] | None) -> tuple[int, str] | None:
    if ran is None or ran[0] == 0:
        return None
    for raw in ran[1].decode("utf-8", "replace").splitlines():
        m = _ERROR.match(raw)
        if m and "warning:" not in m.group(2):
            return int(m.group(1)), m.group(2).strip()
    return None
