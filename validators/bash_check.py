"""`bash -n`: the real shell's verdict on whether a script parses (SAE901 when it does not).

The statement scanner and bashlex accept some scripts bash rejects (`if then fi`); bash itself is
the authority. It only parses (`-n` never runs a command); the script goes in on stdin, so no
path is opened on the user's behalf. Without bash on PATH, or when it takes too long, nothing is
reported.
"""

from __future__ import annotations

import re
import shutil
from functools import lru_cache

_ERROR = re.compile(r"^/dev/stdin: line (\d+): (.*)$")
_TIMEOUT_S = 10.0


@lru_cache(maxsize=1)
def _bash() -> str | None:
    return shutil.which("bash")


def syntax_error(text: str) -> tuple[int, str] | None:
    """(line, bash's message) when `bash -n` rejects `text`, else None."""
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
    if proc.returncode == 0:
        return None
    for raw in proc.stderr.decode("utf-8", "replace").splitlines():
        m = _ERROR.match(raw)
        if m and "warning:" not in m.group(2):
            return int(m.group(1)), m.group(2).strip()
    return None
