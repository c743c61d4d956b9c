"""sae.eval.guards: untrained-model warnings fire exactly at their thresholds."""

from __future__ import annotations

import math

import pytest
from sae.eval.guards import loss_recovered_unclamped, untrained_model_warnings


def codes(ws):
    return sorted(w.code for w in ws)


def test_random_model_numbers_from_issue_19_raise_all_three():
    # random AntiBERTy: variance explained 0.996, clean CE 3.22 = ln 25, zero ablation 3.21
    ws = untrained_model_warnings(
        variance_explained=0.996, ce_clean=3.22, ce_zero=3.21, vocab_size=25
    )
    assert codes(ws) == ["CLEAN_CE_UNIFORM", "VARIANCE_EXPLAINED_HIGH", "ZERO_ABLATION_BETTER"]
    uniform = next(w for w in ws if w.code == "CLEAN_CE_UNIFORM")
    assert uniform.threshold == pytest.approx(0.9 * math.log(25))
    assert "ln 25" in uniform.message and uniform.to_dict()["value"] == 3.22


def test_trained_model_numbers_pass():
    assert (
        untrained_model_warnings(variance_explained=0.884, ce_clean=0.4, ce_zero=4.8, vocab_size=25)
        == []
    )


def test_thresholds_are_inclusive_and_missing_values_skip():
    assert codes(untrained_model_warnings(variance_explained=0.95)) == ["VARIANCE_EXPLAINED_HIGH"]
    assert untrained_model_warnings(variance_explained=0.9499) == []
    bound = 0.9 * math.log(25)
    assert codes(untrained_model_warnings(ce_clean=bound, vocab_size=25)) == ["CLEAN_CE_UNIFORM"]
    assert untrained_model_warnings(ce_clean=bound - 1e-3, vocab_size=25) == []
    assert untrained_model_warnings(ce_clean=3.3) == []  # no vocabulary: that check is skipped
    assert (
        untrained_model_warnings(variance_explained=float("nan"), ce_clean=1.0, ce_zero=1.0) == []
    )


def test_loss_recovered_unclamped():
    assert loss_recovered_unclamped(1.0, 1.5, 3.0) == pytest.approx(0.75)
    assert loss_recovered_unclamped(1.0, 3.5, 3.0) == pytest.approx(-0.25)  # not clipped to 0
    assert loss_recovered_unclamped(3.0, 2.0, 2.5) == pytest.approx(-1.0)  # zero beats clean
    assert math.isnan(loss_recovered_unclamped(2.0, 2.0, 2.0))
