"""Unit checks of the token check shared by every extractor, and of the training-curve plot."""

from __future__ import annotations

import pytest
from test_extract_units import load_rendered


@pytest.mark.parametrize("model,unit", [("esm2", 1), ("codonfm", 3), ("evo2", 1)])
def test_expected_tokens_follow_the_token_unit(tmp_path, model, unit):
    mod = load_rendered(model, tmp_path)
    assert mod.UNIT_SIZE == unit
    assert mod.expected_tokens("A" * 30, 1000) == 30 // unit
    assert mod.expected_tokens("A" * 3000, 100) == 100  # truncated to the context


def test_check_passes_exact_counts_and_a_few_outliers(tmp_path):
    mod = load_rendered("esm2", tmp_path)
    rows = [("M" * 50, 50, "")] * 9 + [("M" * 50, 1, "")]  # one odd sequence of ten
    mod.check_token_counts(rows, 1000, "fix")
    mod.check_token_counts([("MK", 1, "")] * 5, 1000, "fix")  # within 2 tokens: short sequences
    mod.check_token_counts([], 1000, "fix")


def test_check_stops_with_three_examples_and_the_fix(tmp_path):
    mod = load_rendered("esm2", tmp_path)
    rows = [(f"MKT{i:03d}" + "A" * 60, 1, f"[[CLS] [UNK] [SEP] #{i}]") for i in range(8)]
    with pytest.raises(SystemExit) as info:
        mod.check_token_counts(rows, 1000, "set extraction.input_format")
    msg = str(info.value)
    assert "8 of 8 sequences" in msg and "per residue" in msg and "nothing was stored" in msg
    assert msg.count("expected 66") == 3 and "#2]" in msg and "#3]" not in msg
    assert "'MKT000AAAAAAAAAAAAAAAAAA'... (66 characters)" in msg
    assert "likely fix: set extraction.input_format" in msg


def test_too_many_tokens_is_caught_too(tmp_path):
    mod = load_rendered("codonfm", tmp_path)  # a codon model that emits one token per nt
    with pytest.raises(SystemExit, match="per codon"):
        mod.check_token_counts([("ATG" * 40, 120, "")] * 4, 2046, "fix the adapter")


def test_training_curves_label_every_axis_and_the_dead_definition(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    mod = load_rendered("esm2", tmp_path, "eval.py")
    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    rows = [{"step": s, "loss": 1 / s, "fvu": 0.5, "dead_pct": 0.0, "l0": 8, "lr": 1e-3}
            for s in range(1, 6)]  # fmt: skip
    out = tmp_path / "curves.png"
    mod.plot_curves(rows, out, 1000)
    assert out.stat().st_size > 1000
    (fig,) = figures
    axes = fig.get_axes()
    assert len(axes) == 5
    assert all(ax.get_xlabel() == "optimizer step" and ax.get_ylabel() for ax in axes)
    dead = next(ax for ax in axes if ax.get_ylabel() == "dead latents (%)")
    assert "inactive > 1,000 tokens" in dead.get_title()
