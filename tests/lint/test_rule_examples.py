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


def test_every_use_instead_snippet_lints_clean():
    """What a rule's doc recommends must not trip any rule (SAE301's advice once hit SAE302)."""
    import re

    from recipegen.validators.engine import lint_sources
    from recipegen.validators.registry import all_rules

    checked = 0
    for rule in all_rules():
        section = re.search(r"## Use instead\n(.*?)(?=\n## |\Z)", rule.doc, re.S)
        if not section:
            continue
        for lang, code in re.findall(r"```(\w+)\n(.*?)```", section.group(1), re.S):
            path = rule.example_path if lang == "python" else "launch.sh"
            if lang == "python" and not path.endswith(".py"):
                path = "train.py"
            found = [f for f in lint_sources({path: code}) if f.code != "SAE901"]
            assert not found, (rule.code, [(f.code, f.message) for f in found])
            checked += 1
    assert checked >= 20


def test_listed_severity_is_what_a_plain_finding_carries():
    """`recipegen rules` says what a finding usually is: SAE202 warns, and is an error only
    when the run name claims dead-count-global."""
    from recipegen.validators.engine import lint_sources
    from recipegen.validators.registry import get_rule

    assert get_rule("SAE202").severity == "warning"
    plain = lint_sources({"launch.sh": "torchrun --nproc_per_node 4 train.py --dp-size 4\n"})
    claim = lint_sources({"launch.sh": "python train.py --cache-dir c --run-name evo2_l26_dcg\n"})
    assert [(f.code, f.severity) for f in plain] == [("SAE202", "warning")]
    assert [(f.code, f.severity) for f in claim] == [("SAE202", "error")]


def test_docs_point_at_sae_features_not_a_fictional_version():
    from recipegen.validators.registry import get_rule

    from recipegen import skill_docs

    doc = get_rule("SAE101").doc
    assert "0.0.9" not in doc and 'sae-features = ["normalize-input"]' in doc
    fact = skill_docs.all_facts()[22].text
    assert "stayed 0.1.0" in fact and "only `sae-features`" in fact
