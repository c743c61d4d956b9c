"""Text that is safe to print: hostile file names, spec keys or script contents never reach the
terminal as control sequences (ESC, BEL, CR, ...) or as unencodable lone surrogates."""

from __future__ import annotations


def printable(text: str) -> str:
    """`text` with control, format and surrogate characters escaped (ESC shows as `\\x1b`)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def printable_lines(text: str) -> str:
    """`printable` per line (keeps the line breaks of a multi-line message)."""
    return "\n".join(printable(line) for line in text.split("\n"))
