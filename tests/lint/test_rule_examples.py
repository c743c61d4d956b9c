"""Every rule's VALID examples lint clean of that rule; every INVALID example triggers it."""

from __future__ import annotations

import pytest
from recipegen.validators.registry import all_rules

from ._util import codes_for

RULES = all_rules()
VALID = [(r, i, ex) for r in RULES for i, ex in enumerate(r.VALID)]
INVALID = [(r, i, ex) for r in RULES for i, ex in enumerate(r.INVALID)]


def test_every_rule_has_examples():
    for r in RULES:
        assert r.VALID and r.INVALID, f"{r.code} needs VALID and INVALID examples"


@pytest.mark.parametrize("rule,idx,example", VALID, ids=[f"{r.code}-valid{i}" for r, i, _ in VALID])
def test_valid_example(rule, idx, example):
    assert rule.code not in codes_for(rule, example)


@pytest.mark.parametrize(
    "rule,idx,example", INVALID, ids=[f"{r.code}-invalid{i}" for r, i, _ in INVALID]
)
def test_invalid_example(rule, idx, example):
    assert rule.code in codes_for(rule, example)
