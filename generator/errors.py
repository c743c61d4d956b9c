"""Errors the generator reports: each names where (file, line), what (field) and the fix."""

from __future__ import annotations

from dataclasses import dataclass

from recipegen.textsafe import printable, printable_lines

__all__ = ["GeneratorError", "Problem", "SpecError", "printable", "printable_lines"]


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
