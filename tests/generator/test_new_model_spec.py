"""The new-model path through the generator: `extraction.input_format`, the config.json shortcut
(no guessed context, the checkpoint is the config's folder, one naming rule), and `new` refusing
to replace another model's recipe or edited files without --force (which names and backs them up)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from gen_helpers import MINIMAL_SPEC, require_templates, write_spec
from recipegen.generator import spec as specs
from recipegen.generator.errors import SpecError
from recipegen.generator.generate import generate

from recipegen.cli import main


def cli(*args: str):
    return CliRunner().invoke(main, list(args))


FORMAT = """\
  input_format:
    separator: " "
    case: upper
    replace: {U: X, Z: X, O: X, B: X}
"""


def with_format(block: str) -> str:
    return MINIMAL_SPEC.replace(
        '  checkpoint: "org/mini-{size}"\n', '  checkpoint: "org/mini-{size}"\n' + block
    )


def test_input_format_defaults_to_no_change():
    _, spec = specs.load("esm2")
    assert spec["extraction"]["input_format"] == {
        "separator": "",
        "case": "keep",
        "replace": {},
        "kmer": {"k": None, "stride": 1},
    }


def test_input_format_is_validated_and_reaches_extract_and_eval(tmp_path):
    require_templates("esm2")
    path = write_spec(tmp_path, with_format(FORMAT))
    _, spec = specs.load(spec_path=str(path))
    fmt = spec["extraction"]["input_format"]
    assert fmt == {
        "separator": " ", "case": "upper", "replace": {c: "X" for c in "UZOB"},
        "kmer": {"k": None, "stride": 1},
    }  # fmt: skip
    files = generate(spec_path=str(path)).files
    for name in ("extract.py", "eval.py"):  # one definition, rendered into both scripts
        assert 'INPUT_FORMAT = {"separator": " ", "case": "upper"' in files[name]
        assert "def format_sequence(" in files[name]
    for name in ("extract.py", "eval.py"):  # the same windows: one shared function
        assert "def sequence_windows(" in files[name] and "format_units(sequence)" in files[name]
    assert "sequence_windows(q, units_per_window) ]" not in files["eval.py"]
    assert "for q in sequences for w in sequence_windows(q, units_per_window)" in files["eval.py"]
    assert "plan = {i: sequence_windows(sequences[i], units_per_window)" in files["extract.py"]
    assert "input_format" in files["recipe.yaml"]  # provenance records it


def test_format_sequence_applies_case_then_replace_then_separator(tmp_path):
    require_templates("esm2")
    path = write_spec(tmp_path, with_format(FORMAT))
    source = generate(spec_path=str(path)).files["extract.py"]
    start = source.index("INPUT_FORMAT = ")
    end = source.index("\n\n\n", source.index("def format_sequence"))
    scope: dict = {"TOKEN_UNIT": "aa"}
    exec(compile(source[start:end], "format", "exec"), scope)  # noqa: S102 - our own rendering
    assert scope["format_sequence"]("mkub") == "M K X X"


@pytest.mark.parametrize(
    "block,field,needle",
    [
        ("  input_format:\n    case: title\n", "extraction.input_format.case", "not allowed"),
        ("  input_format:\n    replace: {UZ: X}\n", "extraction.input_format.replace.UZ",
         "single character"),
        ("  input_format:\n    replace: [U, X]\n", "extraction.input_format.replace", "wrong type"),
        ("  input_format:\n    separator: \"          \"\n", "extraction.input_format.separator",
         "longer than 8"),
        ("  input_format:\n    sep: \" \"\n", "extraction.input_format.sep", "unknown key"),
    ],
)  # fmt: skip
def test_bad_input_format_names_file_line_and_field(tmp_path, block, field, needle):
    path = write_spec(tmp_path, with_format(block))
    with pytest.raises(SpecError) as info:
        specs.load(spec_path=str(path))
    text = str(info.value)
    assert f"{path}:" in text and field in text and needle in text
    line = int(text.split(f"{path}:")[1].split(":")[0])
    assert line in (5, 6)  # the line of the offending key


def test_input_format_is_refused_for_other_kinds():
    with pytest.raises(SpecError, match=r"extraction\.input_format.*only used by kind hf"):
        specs.load("codonfm", overrides=["extraction.input_format.case=upper"])


def hf_config(tmp_path: Path, **cfg) -> Path:
    folder = tmp_path / "prot_bert"
    folder.mkdir(exist_ok=True)
    path = folder / "config.json"
    path.write_text(json.dumps(cfg))
    return path


BERT = dict(
    model_type="bert", _name_or_path="Rostlab/prot_bert", hidden_size=32, num_hidden_layers=4,
    max_position_embeddings=40000,
)  # fmt: skip


def test_config_shortcut_does_not_guess_the_context_length(tmp_path):
    path = hf_config(tmp_path, **BERT)
    result = cli("show", "--spec", str(path))
    assert result.exit_code == 2
    out = result.output
    assert "sizes.base.context_length" in out and "40000" in out and "not guessed" in out
    assert "--set sizes.base.context_length=" in out
    result = cli("show", "--spec", str(path), "--set", "sizes.base.context_length=512")
    assert result.exit_code == 0, result.output
    assert "context_length: 512" in result.output


def test_config_shortcut_checkpoint_is_the_folder_and_esm_rule(tmp_path):
    path = hf_config(tmp_path, **dict(BERT, model_type="esm", max_position_embeddings=1026))
    raw, spec = specs.load(spec_path=str(path))
    resolved = specs.resolve(spec, raw)
    assert resolved["model"]["checkpoint"] == str(path.parent.resolve())
    assert resolved["model"]["context_length"] == 1024  # documented rule: esm = positions - 2


def test_show_and_new_name_a_config_json_model_the_same_way(tmp_path):
    require_templates("esm2")
    path = hf_config(tmp_path, **BERT)
    ctx = ("--set", "sizes.base.context_length=512")
    for args, name in (((), "bert"), (("protbert",), "protbert")):
        shown = cli("show", *args, "--spec", str(path), *ctx)
        assert shown.exit_code == 0 and f"name: {name}\n" in shown.output
        made = cli("new", *args, "--spec", str(path), *ctx, "--out", str(tmp_path / "r"))
        assert made.exit_code == 0 and (tmp_path / "r" / f"{name}_sae").is_dir(), made.output


def test_new_refuses_a_recipe_of_another_model_then_force_keeps_a_backup(tmp_path):
    require_templates("esm2")
    out = tmp_path / "recipes"
    assert cli("new", "esm2", "--out", str(out)).exit_code == 0
    shipped = (out / "esm2_sae" / "launch.sh").read_bytes()
    path = hf_config(tmp_path, **dict(BERT, model_type="esm", max_position_embeddings=1026))
    result = cli("new", "esm2", "--spec", str(path), "--out", str(out))
    assert result.exit_code == 2
    assert "holds another recipe" in result.output and "'esm2' (builtin)" in result.output
    assert "--force" in result.output
    assert (out / "esm2_sae" / "launch.sh").read_bytes() == shipped  # nothing changed
    result = cli("new", "esm2", "--spec", str(path), "--out", str(out), "--force")
    assert result.exit_code == 0, result.output
    (backup,) = out.glob(".esm2_sae.backup-*")
    assert f"backup of the replaced files: {backup}" in result.output
    assert (backup / "launch.sh").read_bytes() == shipped
    assert (out / "esm2_sae" / "launch.sh").read_bytes() != shipped
    assert cli("check", str(out / "esm2_sae")).exit_code == 0


def test_force_names_each_edited_file_and_backs_it_up(tmp_path):
    require_templates("esm2")
    out = tmp_path / "recipes"
    assert cli("new", "esm2", "--out", str(out)).exit_code == 0
    recipe = out / "esm2_sae"
    (recipe / "train.py").write_text("# my edit\n")
    (recipe / "README.md").write_text("# my notes\n")
    refused = cli("new", "esm2", "--out", str(out))
    assert refused.exit_code == 2 and "train.py" in refused.output
    result = cli("new", "esm2", "--out", str(out), "--force")
    assert result.exit_code == 0, result.output
    for name in ("train.py", "README.md"):
        assert f"replaced edited file {recipe / name}" in result.output
    (backup,) = out.glob(".esm2_sae.backup-*")
    assert (backup / "train.py").read_text() == "# my edit\n"
    assert sorted(p.name for p in backup.iterdir()) == ["README.md", "train.py"]
    # `check` with no argument skips the hidden backup folder
    assert cli("check", str(recipe)).exit_code == 0


def test_rendered_recipes_ignore_their_work_folder():
    require_templates()
    for model in ("esm2", "codonfm", "evo2"):
        assert generate(model).files[".gitignore"].splitlines()[-1] == "work/"
