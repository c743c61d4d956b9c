"""Core value types: a rule, a finding, and the context a rule's `check` receives."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from recipegen.validators.sae_api import ALL_FEATURES


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
class Invalid:
    """An INVALID rule example and the finding it must produce: its line and a message fragment
    (in `path`, default the rule's example path)."""

    source: Any  # file content, or {path: content}
    line: int
    message: str
    path: str | None = None


@dataclass(frozen=True)
class Fact:
    """A numbered domain fact of docs/gotchas.md, kept in the rule module that enforces it."""

    section: str  # the page section it is listed under
    title: str
    text: str  # Markdown, ending with the rules that enforce it (**SAEnnn**)


@dataclass(frozen=True)
class Symptom:
    """A troubleshooting row: what a user sees at run time, and the fix (`codes` default: the
    rule's own code)."""

    section: str
    symptom: str
    fix: str
    codes: tuple[str, ...] = ()


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
    EXPECT: tuple[Invalid, ...] = ()  # per INVALID example: the line and message it must carry
    launch: bool = False  # a shell rule that also checks launches assembled in Python
    skill_row: str = ""  # the gotcha in one line (the SKILL.md rule table)
    symptoms: tuple[Symptom, ...] = ()  # troubleshooting rows
    facts: dict[int, Fact] = field(default_factory=dict, compare=False)  # facts this rule owns


# Fact containers compare by identity and keep object's repr: generating __eq__/__repr__ for
# every dataclass was a measurable part of start-up.
@dataclass(eq=False, repr=False)
class Ctx:
    """What a rule sees: one file's facts, plus the facts of the scripts a launch calls."""

    rule: Rule
    path: str
    facts: Any
    targets: dict[int, Any] = field(default_factory=dict)
    features: frozenset[str] = ALL_FEATURES  # what the target `sae` library offers
    modules: Callable[[str, int], Any] | None = None  # (module, level) -> facts of a sibling
    floors: dict[str, tuple[int, ...]] = field(default_factory=dict)  # project's dependency pins

    def has(self, feature: str) -> bool:
        return feature in self.features

    def requires_at_least(self, package: str, version: tuple[int, ...]) -> bool:
        """True when the project's own pins (`[project] dependencies` of the nearest
        pyproject.toml) allow only `package` >= `version`."""
        floor = self.floors.get(package)
        return floor is not None and floor >= version

    def module(self, name: str, level: int = 0) -> Any:
        """Facts of a module of the same recipe (`import helpers`, `from .x import y`), or None."""
        return self.modules(name, level) if self.modules is not None else None

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
