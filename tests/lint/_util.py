"""Helpers for the lint tests."""

from __future__ import annotations

from recipegen.validators.engine import lint_sources


def example_sources(rule, example) -> dict:
    """An example is file content (named after the rule's example path) or {path: content}."""
    if isinstance(example, dict):
        return example
    return {rule.example_path: example}


def codes_for(rule, example) -> list[str]:
    return [f.code for f in lint_sources(example_sources(rule, example))]
