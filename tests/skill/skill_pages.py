"""Helpers for the skill tests: locate the skill, split frontmatter, validate it, find code blocks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
SKILL_DIR = REPO_ROOT / "skill" / "sae-recipe"
REFERENCES = SKILL_DIR / "references"
GENERATED = {"rules.md"}

NAME_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
ALLOWED_KEYS = {"name", "description", "license", "compatibility", "metadata", "allowed-tools"}
MAX_BODY_LINES = 500
CODE_RE = re.compile(r"\bSAE\d{3}\b")


def skill_pages() -> list[Path]:
    """SKILL.md first, then every reference page in name order."""
    return [SKILL_DIR / "SKILL.md", *sorted(REFERENCES.glob("*.md"))]


def hand_written_pages() -> list[Path]:
    return [page for page in skill_pages() if page.name not in GENERATED]


def split_frontmatter(text: str) -> tuple[dict, str]:
    """(frontmatter mapping, body); ValueError when the frontmatter block is missing or bad."""
    match = re.match(r"\A---\n(.*?)\n---\n(.*)\Z", text, re.DOTALL)
    if not match:
        raise ValueError("SKILL.md must start with a '---' frontmatter block closed by '---'")
    meta = yaml.safe_load(match.group(1))
    if not isinstance(meta, dict):
        raise ValueError("frontmatter is not a YAML mapping")
    return meta, match.group(2)


def frontmatter_problems(text: str, folder_name: str) -> list[str]:
    """Every way SKILL.md text breaks the Agent Skills format rules; empty when valid."""
    try:
        meta, body = split_frontmatter(text)
    except (ValueError, yaml.YAMLError) as exc:
        return [str(exc)]
    problems = [f"unknown frontmatter key {key!r}" for key in sorted(set(meta) - ALLOWED_KEYS)]
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        problems.append("name: missing or not a string")
    else:
        if len(name) > 64:
            problems.append(f"name: {len(name)} chars > 64")
        if not NAME_RE.match(name):
            problems.append(f"name: {name!r} is not lowercase letters, digits and single hyphens")
        if name != folder_name:
            problems.append(f"name: {name!r} differs from its folder {folder_name!r}")
    description = meta.get("description")
    if not isinstance(description, str) or not description.strip():
        problems.append("description: missing or empty")
    else:
        if len(description) > 1024:
            problems.append(f"description: {len(description)} chars > 1024")
        if "<" in description or ">" in description:
            problems.append("description: contains '<' or '>'")
        if "use when" not in description.lower():
            problems.append("description: does not say when to use it ('Use when ...')")
    n_lines = len(body.splitlines())
    if n_lines >= MAX_BODY_LINES:
        problems.append(f"body: {n_lines} lines, must be under {MAX_BODY_LINES}")
    return problems


@dataclass(frozen=True)
class Block:
    """A fenced code block of a skill page."""

    page: str
    line: int
    lang: str
    code: str

    @property
    def marker(self) -> tuple[str, str] | None:
        """(`skip` | `e2e`, reason) from a first line `# skill-test: KIND (reason)`."""
        first = self.code.lstrip().splitlines()[0] if self.code.strip() else ""
        match = re.match(r"#\s*skill-test:\s*(\w+)\s*(?:\((.*)\))?\s*$", first)
        return (match.group(1), match.group(2) or "") if match else None

    def where(self) -> str:
        return f"{self.page}:{self.line}"


FENCE_RE = re.compile(r"^(```+|~~~+)\s*([\w+-]*)(.*)$")


def code_blocks(page: Path) -> list[Block]:
    """Fenced blocks of a Markdown page, in order (nested fences are not used in the skill)."""
    blocks, lines = [], page.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        match = FENCE_RE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, lang, start = match.group(1), match.group(2).lower(), i + 1
        i += 1
        body = []
        while i < len(lines) and not lines[i].startswith(fence):
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise ValueError(f"{page.name}:{start}: unclosed code fence")
        blocks.append(Block(page.name, start, lang, "\n".join(body) + "\n"))
        i += 1
    return blocks


SHELL_LANGS = {"bash", "sh"}
SHELLISH_LANGS = {"shell", "console", "zsh", "shell-session", "terminal"}
