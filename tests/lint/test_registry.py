"""Registry API, rule metadata and GOTCHAS coverage."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from recipegen.validators.registry import all_rules, get_rule

GOTCHAS = Path(__file__).resolve().parents[3] / "shared" / "GOTCHAS.md"
ISSUE_CODES = {
    "SAE101": "opt-in-flag-missing",
    "SAE102": "opt-in-flag-not-wired",
    "SAE103": "decay-horizon-hardcoded",
    "SAE201": "cosine-truncated",
    "SAE202": "dead-count-global-missing",
    "SAE203": "dead-count-global-noop",
    "SAE204": "presample-without-init-pre-bias",
    "SAE205": "dp-size-mismatch",
    "SAE206": "wandb-env",
    "SAE207": "unknown-flag",
    "SAE208": "missing-required-arg",
    "SAE209": "unguarded-extract",
    "SAE210": "huggingface-cli-deprecated",
    "SAE211": "compressed-fasta-to-predict",
    "SAE212": "parallel-runs-same-port",
    "SAE301": "bf16-append",
    "SAE302": "unmasked-append",
    "SAE303": "barrier-after-predict",
    "SAE304": "pt-intermediate",
    "SAE305": "metadata-in-finally",
    "SAE306": "unsafe-torch-load",
    "SAE901": "parse-error",
    "SAE902": "unused-noqa",
}


def test_issue_codes_and_names_are_fixed():
    for code, name in ISSUE_CODES.items():
        assert get_rule(code).name == name


def test_rule_objects_have_the_documented_shape():
    from recipegen import skill_docs

    facts = skill_docs.all_facts()
    for r in all_rules():
        assert re.fullmatch(r"SAE\d{3}", r.code)
        assert re.fullmatch(r"[a-z0-9-]+", r.name)
        assert r.severity in ("error", "warning")
        assert r.summary and "\n" not in r.summary
        for section in ("## What it does", "## Why is this bad?", "## Example", "## Use instead"):
            assert section in r.doc, f"{r.code} doc lacks {section!r}"
        assert all(isinstance(g, int) and g in facts for g in r.gotchas), r.code


def test_get_rule_is_case_insensitive_and_names_unknown_codes():
    assert get_rule("sae102").code == "SAE102"
    with pytest.raises(KeyError, match="SAE999"):
        get_rule("SAE999")


def test_every_gotchas_fact_maps_to_a_rule():
    covered = {g for r in all_rules() for g in r.gotchas}
    assert covered >= set(range(1, 21)), sorted(set(range(1, 21)) - covered)


def test_gotchas_file_numbers_its_facts_and_rules_cite_existing_ones():
    if not GOTCHAS.is_file():
        pytest.skip("../shared/GOTCHAS.md not present")
    numbers = {int(m) for m in re.findall(r"^(\d+)\. ", GOTCHAS.read_text(), re.M)}
    assert numbers == set(range(1, max(numbers) + 1)) and len(numbers) >= 20
    assert {g for r in all_rules() for g in r.gotchas} <= numbers
