"""SKILL.md follows the Agent Skills format; references are one level deep and all reachable."""

from __future__ import annotations

import re

import pytest
from skill_pages import (
    REFERENCES,
    SKILL_DIR,
    code_blocks,
    frontmatter_problems,
    skill_pages,
    split_frontmatter,
)

LINK_RE = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_skill_md_frontmatter_is_valid():
    text = (SKILL_DIR / "SKILL.md").read_text(encoding="utf-8")
    assert frontmatter_problems(text, SKILL_DIR.name) == []


def _page(name="sae-recipe", description="Does X. Use when Y.", body_lines=10, extra=""):
    body = "\n".join(f"line {i}" for i in range(body_lines))
    return f"---\nname: {name}\ndescription: {description}\n{extra}---\n{body}\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (_page(name="SAE-Recipe"), "not lowercase"),
        (_page(name="sae--recipe"), "single hyphens"),
        (_page(name="-sae-recipe"), "single hyphens"),
        (_page(name="other-skill"), "differs from its folder"),
        (_page(name="a" * 65), "> 64"),
        (_page(description="x" * 1020 + " Use when."), "> 1024"),
        (_page(description="Turns <a> into b. Use when asked."), "'<' or '>'"),
        (_page(description="Does X only."), "when to use"),
        (_page(description='""'), "description: missing"),
        (_page(body_lines=500), "under 500"),
        (_page(extra="version: 1\n"), "unknown frontmatter key 'version'"),
        ("# no frontmatter\n", "frontmatter block"),
        ("---\n- a list\n---\nbody\n", "not a YAML mapping"),
    ],
)
def test_frontmatter_validator_rejects(text, expected):
    problems = frontmatter_problems(text, "sae-recipe")
    assert any(expected in problem for problem in problems), problems


def test_frontmatter_validator_accepts_limits():
    text = _page(description="y" * 1000 + " Use when.", body_lines=499)
    assert frontmatter_problems(text, "sae-recipe") == []


def test_references_are_one_level_deep_markdown():
    assert REFERENCES.is_dir()
    for path in SKILL_DIR.rglob("*"):
        rel = path.relative_to(SKILL_DIR)
        if path.is_dir():
            assert rel.as_posix() == "references", f"unexpected folder {rel}"
        else:
            assert rel.suffix == ".md", f"{rel}: only Markdown ships with the skill"
            assert len(rel.parts) <= 2, f"{rel}: references must be one level deep"


def test_every_link_resolves_and_every_reference_is_linked_from_skill_md():
    skill_links = set()
    for page in skill_pages():
        text = page.read_text(encoding="utf-8")
        for target in LINK_RE.findall(text):
            if "://" in target:
                continue
            resolved = (page.parent / target).resolve()
            assert resolved.is_file(), f"{page.name}: broken link {target}"
            if page.name == "SKILL.md":
                skill_links.add(resolved)
    for reference in REFERENCES.glob("*.md"):
        assert reference.resolve() in skill_links, f"SKILL.md never links {reference.name}"


def test_description_names_the_tool_and_the_triggers():
    meta, body = split_frontmatter((SKILL_DIR / "SKILL.md").read_text(encoding="utf-8"))
    for word in ("recipegen", "spec", "lint", "ESM2", "Evo2", "CodonFM"):
        assert word in meta["description"], word
    for section in ("## When to use", "## Prerequisites", "## Workflow"):
        assert section in body


def test_skill_md_covers_each_prerequisite():
    body = (SKILL_DIR / "SKILL.md").read_text(encoding="utf-8").lower()
    for topic in (
        "inference path",
        "layer access",
        "checkpoint format",
        "token-position mapping",
        "float activations",
        "context length",
    ):
        assert topic in body, topic


def test_code_fences_are_closed_and_tagged():
    for page in skill_pages():
        for block in code_blocks(page):
            assert block.lang, f"{block.where()}: tag every fence with its language"
