"""Regular expressions compiled on first use, not at import.

A lint run uses a fraction of the patterns the linter defines (a shell file never needs the
Python rules' patterns); compiling them all at import cost several milliseconds of start-up.
`compile_lazy(pattern, flags)` returns a stand-in with the compiled pattern's methods and
attributes; the first use compiles it, and every method looked up is then kept on the
stand-in, so later calls cost what a compiled pattern's do.
"""

from __future__ import annotations

import re


class LazyPattern:
    """A `re.Pattern` compiled when first used."""

    def __init__(self, pattern: str | bytes, flags: int = 0) -> None:
        self.__dict__["_args"] = (pattern, flags)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        compiled = self.__dict__.get("_compiled")
        if compiled is None:
            compiled = self.__dict__["_compiled"] = re.compile(*self._args)
        value = getattr(compiled, name)
        self.__dict__[name] = value  # bound methods and attributes: looked up once
        return value

    def __repr__(self) -> str:
        return f"LazyPattern({self._args[0]!r}, {self._args[1]!r})"


def compile_lazy(pattern: str | bytes, flags: int = 0) -> LazyPattern:
    """Like `re.compile`, compiled on first use."""
    return LazyPattern(pattern, flags)
