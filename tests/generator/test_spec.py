"""Model specs: shipped values, schema defaults, and errors that name file, line, field and fix."""

from __future__ import annotations

import json

import pytest
from gen_helpers import MINIMAL_SPEC, write_spec
from recipegen.generator import spec as specs
from recipegen.generator.errors import GeneratorError, SpecError

ESM2_SIZES = {
    "8M": (6, 320),
    "35M": (12, 480),
    "150M": (30, 640),
    "650M": (33, 1280),
    "3B": (36, 2560),
    "15B": (48, 5120),
}
CODONFM_SIZES = {"80M": (6, 1024), "600M": (12, 2048), "1B": (18, 2048), "5B": (24, 4096)}
EVO2_SIZES = {"1B": (25, 1920), "7B": (32, 4096), "40B": (50, 8192)}
OPT_IN = ("normalize_input", "aggregate_loss", "dead_count_global")


def test_builtin_models_are_the_shipped_families():
    assert specs.builtin_models() == ["antiberty", "codonfm", "esm2", "evo2"]


@pytest.mark.parametrize(
    "model,sizes,context",
    [("esm2", ESM2_SIZES, 1024), ("codonfm", CODONFM_SIZES, 2048), ("evo2", EVO2_SIZES, 8192)],
)
def test_shipped_sizes_match_the_issue(model, sizes, context):
    _, spec = specs.load(model)
    got = {k: (v["n_layers"], v["hidden_dim"]) for k, v in spec["sizes"].items()}
    assert got == sizes
    assert all(v["context_length"] == context for v in spec["sizes"].values())
    for entry in spec["sizes"].values():
        assert 1 <= entry["default_layer"] <= entry["n_layers"]


def test_esm2_checkpoint_placeholders_are_filled_per_size():
    raw, spec = specs.load("esm2")
    assert specs.resolve(spec, raw)["model"]["checkpoint"] == "facebook/esm2_t6_8M_UR50D"
    assert specs.resolve(spec, raw, "650M")["model"]["checkpoint"] == "facebook/esm2_t33_650M_UR50D"
    assert spec["extraction"]["kind"] == "hf" and spec["extraction"]["token_unit"] == "aa"


def test_codonfm_defaults():
    _, spec = specs.load("codonfm")
    sae = spec["sae"]
    assert spec["extraction"]["kind"] == "custom" and ":" in spec["extraction"]["adapter"]
    assert spec["extraction"]["token_unit"] == "codon"
    assert (sae["expansion_factor"], sae["top_k"], sae["auxk"], sae["lr"]) == (8, 32, 64, 2e-4)
    assert sae["init_pre_bias"] is True
    assert not any(sae[f] for f in OPT_IN) and sae["mix_shards"] == sae["presample_shards"] == 1


def test_evo2_defaults_follow_gotchas_fact_4():
    raw, spec = specs.load("evo2")
    sae = spec["sae"]
    assert spec["extraction"]["kind"] == "predict_cli"
    assert spec["extraction"]["predict_module"] == "bionemo.evo2.run.predict"
    assert spec["data"]["corpus_ordered"] is True
    assert all(sae[f] for f in OPT_IN)
    assert (sae["mix_shards"], sae["presample_shards"]) == (10, 8)
    assert (sae["expansion_factor"], sae["top_k"], sae["auxk"]) == (16, 128, 2048)
    assert (sae["lr"], sae["lr_min"], sae["lr_schedule"]) == (1e-4, 1e-5, "cosine")
    assert (sae["warmup_steps"], sae["max_grad_norm"], sae["n_epochs"]) == (1000, 1.0, 1)
    assert sae["auxk_coef"] == pytest.approx(1 / 32)
    resolved = specs.resolve(spec, raw, "7B")
    assert resolved["layer"] == 26


def test_minimal_spec_gets_every_default(tmp_path):
    raw, spec = specs.load(spec_path=str(write_spec(tmp_path, MINIMAL_SPEC)))
    assert spec["sae"]["lr_schedule"] == "cosine" and spec["data"]["shard_size"] == 100_000
    assert spec["default_size"] == "tiny" and spec["sizes"]["tiny"]["default_layer"] == 4
    assert spec["launch"]["nproc_per_node"] == 1 and spec["smoke"]["n_sequences"] == 48
    assert specs.resolve(spec, raw)["model"]["checkpoint"] == "org/mini-tiny"


def _error(tmp_path, text: str, overrides=()) -> SpecError:
    path = write_spec(tmp_path, text)
    with pytest.raises(SpecError) as info:
        raw, spec = specs.load(spec_path=str(path), overrides=list(overrides))
        specs.resolve(spec, raw)
    return info.value


def test_malformed_yaml_names_file_and_line(tmp_path):
    err = _error(tmp_path, MINIMAL_SPEC + "data: [unclosed\n")
    assert f"{tmp_path / 'spec.yaml'}:" in str(err)
    assert err.problems[0].line == 12 and "malformed YAML" in str(err)


def test_unknown_key_names_line_field_and_known_keys(tmp_path):
    err = _error(tmp_path, MINIMAL_SPEC + "  topk: 9\n")
    (p,) = err.problems
    assert (p.line, p.field) == (11, "sae.topk")
    assert "unknown key" in p.message and "top_k" in p.fix


def test_unknown_top_level_key(tmp_path):
    err = _error(tmp_path, "colour: red\n" + MINIMAL_SPEC)
    assert (err.problems[0].line, err.problems[0].field) == (1, "colour")


def test_wrong_type_names_line_and_expected_type(tmp_path):
    err = _error(tmp_path, MINIMAL_SPEC.replace("top_k: 8", "top_k: eight"))
    (p,) = err.problems
    assert (p.line, p.field) == (9, "sae.top_k") and "expected int" in p.message


def test_bool_is_not_an_int_and_int_is_not_a_bool(tmp_path):
    text = MINIMAL_SPEC + "  mix_shards: true\n  normalize_input: 1\n"
    fields = {p.field for p in _error(tmp_path, text).problems}
    assert fields == {"sae.mix_shards", "sae.normalize_input"}


def test_every_problem_is_reported_at_once(tmp_path):
    text = MINIMAL_SPEC + "  lr_schedule: exponential\n  warmup_steps: -5\n  bogus: 1\n"
    fields = {p.field for p in _error(tmp_path, text).problems}
    assert fields == {"sae.lr_schedule", "sae.warmup_steps", "sae.bogus"}


def test_missing_required_keys(tmp_path):
    err = _error(tmp_path, "name: x\nextraction: {kind: hf}\n")
    fields = {p.field for p in err.problems}
    assert {"extraction.checkpoint", "sizes"} <= fields


def test_layer_out_of_range_names_the_range(tmp_path):
    raw, spec = specs.load("esm2")
    for layer in (0, 7, -1):
        with pytest.raises(GeneratorError, match=r"1\.\.6"):
            specs.resolve(spec, raw, "8M", layer)
    bad_default = MINIMAL_SPEC.replace(
        "context_length: 128}", "context_length: 128, default_layer: 9}"
    )
    (p,) = _error(tmp_path, bad_default).problems
    assert p.field == "sizes.tiny.default_layer" and p.line == 6


def test_top_k_at_or_above_latents_is_refused(tmp_path):
    err = _error(tmp_path, MINIMAL_SPEC.replace("top_k: 8", "top_k: 128"))  # 4 x 32 = 128
    (p,) = err.problems
    assert (p.field, p.line) == ("sae.top_k", 9) and "128" in p.message and "latents" in p.message


def test_auxk_at_or_above_latents_is_refused(tmp_path):
    (p,) = _error(tmp_path, MINIMAL_SPEC.replace("auxk: 16", "auxk: 500")).problems
    assert (p.field, p.line) == ("sae.auxk", 10) and "expansion_factor" in p.fix


def test_latent_check_uses_the_chosen_size():
    raw, spec = specs.load("esm2", overrides=["sae.top_k=3000"])  # 8 x 320 = 2560 latents
    with pytest.raises(SpecError, match="top_k"):
        specs.resolve(spec, raw, "8M")
    assert specs.resolve(spec, raw, "650M")["sae"]["top_k"] == 3000  # 8 x 1280 = 10240


def test_python_tags_are_refused_before_construction(tmp_path):
    text = MINIMAL_SPEC + 'description: !!python/object/apply:os.system ["touch pwned"]\n'
    (p,) = _error(tmp_path, text).problems
    assert p.line == 11 and "python/object" in p.message
    assert not (tmp_path / "pwned").exists()


def test_duplicate_keys_are_refused(tmp_path):
    (p,) = _error(tmp_path, MINIMAL_SPEC + "name: other\n").problems
    assert p.field == "name" and "duplicate" in p.message and p.line == 11


def test_unknown_checkpoint_placeholder(tmp_path):
    text = MINIMAL_SPEC.replace("org/mini-{size}", "org/{size.__class__}")
    (p,) = _error(tmp_path, text).problems
    assert p.field == "extraction.checkpoint" and "placeholder" in p.message


def test_kind_specific_keys(tmp_path):
    text = MINIMAL_SPEC.replace("kind: hf", "kind: custom")
    (p,) = _error(tmp_path, text).problems
    assert p.field == "extraction.adapter" and "required" in p.message
    text = MINIMAL_SPEC.replace("kind: hf", "kind: hf\n  predict_module: a.b")
    (p,) = _error(tmp_path, text).problems
    assert p.field == "extraction.predict_module"


def test_float_written_without_dot_is_accepted(tmp_path):
    raw, spec = specs.load(spec_path=str(write_spec(tmp_path, MINIMAL_SPEC + "  lr: 1e-4\n")))
    assert spec["sae"]["lr"] == 1e-4


def test_overrides_set_dotted_keys_and_are_validated():
    _, spec = specs.load("esm2", overrides=["sae.top_k=64", "sizes.8M.default_layer=3"])
    assert spec["sae"]["top_k"] == 64 and spec["sizes"]["8M"]["default_layer"] == 3
    with pytest.raises(SpecError) as info:
        specs.load("esm2", overrides=["sae.top_k=many"])
    (p,) = info.value.problems
    assert p.file == "--set sae.top_k=many" and p.field == "sae.top_k"
    with pytest.raises(SpecError, match="unknown key"):
        specs.load("esm2", overrides=["sae.nope=1"])
    with pytest.raises(SpecError, match="key=value"):
        specs.load("esm2", overrides=["sae.top_k"])


def test_unknown_model_lists_known_models():
    with pytest.raises(GeneratorError, match="known models: antiberty, codonfm, esm2, evo2"):
        specs.load("esm3")


def test_hf_config_shortcut(tmp_path):
    cfg = {
        "model_type": "esm",
        "_name_or_path": "facebook/esm2_t12_35M_UR50D",
        "hidden_size": 480,
        "num_hidden_layers": 12,
        "max_position_embeddings": 1026,
    }
    path = write_spec(tmp_path, json.dumps(cfg), "config.json")
    raw, spec = specs.load(spec_path=str(path))
    resolved = specs.resolve(spec, raw)
    assert resolved["name"] == "esm" and resolved["extraction"]["kind"] == "hf"
    assert resolved["model"]["hidden_dim"] == 480 and resolved["model"]["n_layers"] == 12
    assert resolved["model"]["context_length"] == 1024
    assert resolved["model"]["checkpoint"] == str(tmp_path.resolve())  # the config's folder
    _, named = specs.load("my_esm", spec_path=str(path))
    assert named["name"] == "my_esm"


def test_hf_config_errors_name_file_and_field(tmp_path):
    path = write_spec(tmp_path, '{"hidden_size": 8,\n "num_hidden_layers": }', "config.json")
    with pytest.raises(SpecError, match=r"config\.json:2: \(json\)"):
        specs.load(spec_path=str(path))
    path = write_spec(tmp_path, '{"hidden_size": 8}', "config.json")
    with pytest.raises(SpecError, match="num_hidden_layers"):
        specs.load(spec_path=str(path))


def test_spec_hash_is_stable_and_content_sensitive():
    _, a = specs.load("esm2")
    _, b = specs.load("esm2")
    _, c = specs.load("esm2", overrides=["sae.top_k=31"])
    assert specs.spec_sha256(a) == specs.spec_sha256(b) != specs.spec_sha256(c)
