"""The config.json shortcut for model families beyond BERT/ESM: T5 (d_model, num_layers), GPT-2
(n_embd, n_layer, n_positions) and an unknown family (the error names the fields it looked for
and the --set that fixes it). Configs are written by transformers itself."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from recipegen.cli import main

transformers = pytest.importorskip("transformers")


def show(*args: str):
    return CliRunner().invoke(main, ["show", *args])


def test_t5_reads_d_model_and_the_encoder_layers_and_needs_a_context(tmp_path):
    transformers.T5Config(
        d_model=48, num_layers=5, num_decoder_layers=2, num_heads=2, d_kv=24, d_ff=96
    ).save_pretrained(tmp_path)
    config = str(tmp_path / "config.json")
    result = show("--spec", config)
    assert result.exit_code != 0
    assert "sizes.base.context_length" in result.output and "relative positions" in result.output
    assert "hidden_dim" not in result.output.split("Error")[-1]  # d_model was found
    result = show("prott5", "--spec", config, "--set", "sizes.base.context_length=512")
    assert result.exit_code == 0, result.output
    assert "n_layers: 5" in result.output and "hidden_dim: 48" in result.output  # encoder's 5


def test_gpt2_reads_n_embd_n_layer_and_its_window(tmp_path):
    transformers.GPT2Config(n_embd=40, n_layer=3, n_head=2, n_positions=256).save_pretrained(
        tmp_path
    )
    result = show("--spec", str(tmp_path / "config.json"))
    assert result.exit_code == 0, result.output
    for line in ("n_layers: 3", "hidden_dim: 40", "context_length: 256"):
        assert line in result.output


def test_an_unknown_family_names_the_fields_and_the_set_that_fixes_it(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model_type": "mystery", "width": 64, "depth": 4}))
    result = show("--spec", str(config))
    assert result.exit_code != 0 and "Traceback" not in result.output
    out = result.output
    assert "hidden_size, d_model, n_embd" in out and "num_hidden_layers, num_layers, n_layer" in out
    assert "--set sizes.base.hidden_dim=N" in out and "--set sizes.base.n_layers=N" in out
    fixed = show("--spec", str(config), "--set", "sizes.base.hidden_dim=64",
                 "--set", "sizes.base.n_layers=4", "--set", "sizes.base.context_length=128")  # fmt: skip
    assert fixed.exit_code == 0, fixed.output
    assert "hidden_dim: 64" in fixed.output and "default_layer" in fixed.output


def test_kmer_needs_k_and_k_needs_the_kmer_unit(tmp_path):
    transformers.BertConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2
    ).save_pretrained(tmp_path)
    base = ["--spec", str(tmp_path / "config.json"), "--set", "sizes.base.context_length=510"]
    result = show(*base, "--set", "extraction.token_unit=kmer")
    assert result.exit_code != 0 and "extraction.input_format.kmer" in result.output
    result = show(*base, "--set", "extraction.input_format.kmer.k=6")
    assert result.exit_code != 0 and "set extraction.token_unit: kmer" in result.output
    result = show(*base, "--set", "extraction.token_unit=kmer", "--set",
                  "extraction.input_format.kmer.k=0")  # fmt: skip
    assert result.exit_code != 0 and "kmer.k" in result.output
    ok = show(
        *base, "--set", "extraction.token_unit=kmer", "--set", "extraction.input_format.kmer.k=6"
    )
    assert ok.exit_code == 0, ok.output
