"""Core value types: a rule, a finding, and the context a rule's `check` receives."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    path: str
    line: int
    col: int = 1
    severity: str = "error"
    snippet: str = ""


@dataclass(frozen=True)
class Rule:
    """A lint rule: metadata, examples and a pure `check(ctx) -> findings` function."""

    code: str
    name: str
    severity: str
    summary: str
    doc: str
    gotchas: tuple[int, ...]
    VALID: tuple[Any, ...]
    INVALID: tuple[Any, ...]
    kind: str  # "python", "shell" or "meta" (engine-reported: SAE901, SAE902)
    example_path: str
    check: Callable[[Ctx], Iterable[Finding]] = field(repr=False, compare=False)


@dataclass
class Ctx:
    """What a rule sees: one file's facts, plus the facts of the scripts a launch calls."""

    rule: Rule
    path: str
    facts: Any
    targets: dict[int, Any] = field(default_factory=dict)

    def target(self, invocation: Any) -> Any:
        return self.targets.get(id(invocation))

    def finding(
        self, line: int, message: str, col: int = 1, severity: str | None = None
    ) -> Finding:
        lines = getattr(self.facts, "lines", [])
        snippet = lines[line - 1].strip() if 0 < line <= len(lines) else ""
        return Finding(
            self.rule.code, message, self.path, line, col, severity or self.rule.severity, snippet
        )

    def finding_at(self, pos: tuple[int, int], message: str) -> Finding:
        return self.finding(pos[0], message, pos[1])
