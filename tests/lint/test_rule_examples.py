"""Every rule's VALID examples lint clean of that rule; every INVALID example produces a finding of
that rule on the line, in the file and with the message fragment the example states."""

from __future__ import annotations

import pytest
from recipegen.validators.engine import lint_sources
from recipegen.validators.model import Invalid
from recipegen.validators.registry import all_rules

from ._util import codes_for, example_sources

RULES = all_rules()
VALID = [(r, i, ex) for r in RULES for i, ex in enumerate(r.VALID)]
INVALID = [(r, i, ex) for r in RULES for i, ex in enumerate(r.INVALID)]


def test_every_rule_has_examples():
    for r in RULES:
        assert r.VALID and r.INVALID, f"{r.code} needs VALID and INVALID examples"


def test_every_invalid_example_states_line_and_message():
    for r in RULES:
        assert len(r.EXPECT) == len(r.INVALID)
        for i, exp in enumerate(r.EXPECT):
            assert isinstance(exp, Invalid), f"{r.code} INVALID[{i}] must be an Invalid(...)"
            assert exp.line >= 1 and exp.message.strip(), f"{r.code} INVALID[{i}]"


@pytest.mark.parametrize("rule,idx,example", VALID, ids=[f"{r.code}-valid{i}" for r, i, _ in VALID])
def test_valid_example(rule, idx, example):
    assert rule.code not in codes_for(rule, example)


@pytest.mark.parametrize(
    "rule,idx,example", INVALID, ids=[f"{r.code}-invalid{i}" for r, i, _ in INVALID]
)
def test_invalid_example(rule, idx, example):
    exp = rule.EXPECT[idx]
    sources = example_sources(rule, example)
    path = exp.path or (rule.example_path if rule.example_path in sources else next(iter(sources)))
    found = [f for f in lint_sources(sources) if f.code == rule.code]
    assert found, f"{rule.code} reports nothing"
    hits = [f for f in found if f.path == path and f.line == exp.line and exp.message in f.message]
    assert hits, (
        f"expected {rule.code} at {path}:{exp.line} with {exp.message!r}; got "
        + "; ".join(f"{f.path}:{f.line} {f.message}" for f in found)
    )
