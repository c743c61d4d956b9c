"""Errors the generator reports: each names where (file, line), what (field) and the fix."""

from __future__ import annotations

from dataclasses import dataclass


def printable(text: str) -> str:
    """`text` with control, format and surrogate characters escaped, so a hostile key name or
    path can never drive the terminal (ESC is shown as `\\x1b`)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


@dataclass(frozen=True)
class Problem:
    """One validation problem: `file:line: field: message (fix: ...)`."""

    file: str
    line: int | None
    field: str
    message: str
    fix: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{where}: {self.field}: {self.message} (fix: {self.fix})"
        return printable(text)


def printable_lines(text: str) -> str:
    """`printable` per line (keeps the line breaks of a multi-line message)."""
    return "\n".join(printable(line) for line in text.split("\n"))


class GeneratorError(Exception):
    """A user-facing error: the message says what is wrong and how to fix it."""


class SpecError(GeneratorError):
    """A model spec (or an override) is invalid; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        lines = [str(p) for p in self.problems]
        head = (
            "invalid model spec"
            if len(lines) == 1
            else f"invalid model spec ({len(lines)} problems)"
        )
        super().__init__(head + ":\n  " + "\n  ".join(lines))
