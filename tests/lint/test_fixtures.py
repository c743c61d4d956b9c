"""Realistic fixture files trigger exactly the intended codes (and the good recipe none)."""

from __future__ import annotations

from pathlib import Path

import pytest
from recipegen.validators.config import LintConfig
from recipegen.validators.engine import lint_paths

FIXTURES = Path(__file__).parent / "fixtures"

EXPECTED = {
    "good_recipe": [],
    "drifted_train": ["SAE102"] * 4,
    "cosine_trap": ["SAE201"],
    "bf16_extract": ["SAE301"],
    "dcg_runname": ["SAE202"],
    "flag_typo": ["SAE207"],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_triggers_exactly_the_intended_codes(name, monkeypatch):
    monkeypatch.chdir(FIXTURES)
    result = lint_paths([Path(name)], LintConfig())
    assert result.files >= 1
    assert sorted(f.code for f in result.findings) == EXPECTED[name], result.findings


def test_drifted_train_names_each_unwired_flag(monkeypatch):
    monkeypatch.chdir(FIXTURES)
    msgs = " ".join(f.message for f in lint_paths([Path("drifted_train")], LintConfig()).findings)
    for flag in ("--aggregate-loss", "--dead-count-global", "--mix-shards", "--presample-shards"):
        assert flag in msgs
    assert "--normalize-input" not in msgs  # still wired through the kwargs dict


def test_flag_typo_suggests_the_real_flag(monkeypatch):
    monkeypatch.chdir(FIXTURES)
    (finding,) = lint_paths([Path("flag_typo")], LintConfig()).findings
    assert "--aggregate-loss" in finding.message and finding.line == 5


def test_dcg_run_name_is_an_error(monkeypatch):
    monkeypatch.chdir(FIXTURES)
    (finding,) = lint_paths([Path("dcg_runname")], LintConfig()).findings
    assert finding.severity == "error"
