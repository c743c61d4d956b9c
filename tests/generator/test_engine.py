"""Rendering, writing and drift checking, on stand-in templates (independent of the real ones)."""

from __future__ import annotations

import ast
import os
import shlex
import shutil
import subprocess

import pytest
import yaml
from gen_helpers import FIXTURE_TEMPLATES, MODELS
from hypothesis import given, settings
from hypothesis import strategies as st
from recipegen.generator import provenance as prov
from recipegen.generator.check import diff_recipe
from recipegen.generator.errors import GeneratorError
from recipegen.generator.generate import generate
from recipegen.generator.render import TemplateSource, pyrepr, shquote, template_hash
from recipegen.generator.write import EditedFilesError, write

from recipegen import __version__

EXPECTED_FILES = {
    "extract.py",
    "train.py",
    "eval.py",
    "analyze.py",
    "steer.py",
    "launch.sh",
    "slurm.sbatch",
    "README.md",
    "recipe.yaml",
    ".gitignore",
}


def snapshot(directory):
    """{name: (bytes, mode, mtime_ns)} of every entry, to prove 'nothing changed'."""
    out = {}
    for p in sorted(directory.rglob("*")):
        st = p.stat()
        out[str(p.relative_to(directory))] = (
            p.read_bytes() if p.is_file() else None,
            st.st_mode,
            st.st_mtime_ns,
        )
    return out


@pytest.mark.parametrize(
    "value",
    ["plain", "it's", 'say "hi"', "both ' and \"", "a\nb", "$(touch x)", "`id`", "", "ü→☃", "\\"],
)
def test_pyrepr_strings_round_trip_and_shquote_is_one_word(value):
    assert ast.literal_eval(pyrepr(value)) == value
    assert shlex.split(shquote(value)) == [value]


@settings(max_examples=150, deadline=None)
@given(st.text())
def test_pyrepr_and_shquote_round_trip_any_text(value):
    assert ast.literal_eval(pyrepr(value)) == value
    if "\x00" not in value:  # argv cannot carry NUL; the spec refuses control characters
        out = subprocess.run(
            ["bash", "-c", 'printf "%s" ' + shquote(value)], capture_output=True, check=True
        ).stdout
        assert out.decode("utf-8", "surrogateescape") == value


def test_pyrepr_other_values():
    for value in (None, True, 3, 1e-05, [1, "a"], {"k": [None]}, (1,)):
        assert ast.literal_eval(pyrepr(value)) == value
    assert pyrepr("x") == '"x"'
    assert shquote(None) == "''"


@pytest.mark.parametrize("model", MODELS)
def test_render_all_models_with_stub_templates(model, stub_templates):
    rendered = generate(model, templates=stub_templates)
    assert set(rendered.files) == EXPECTED_FILES
    assert rendered.dirname == f"{model}_sae"
    kind = rendered.provenance.spec["extraction"]["kind"]
    assert f"({kind})" in rendered.files["extract.py"]


def test_recipe_yaml_records_provenance(tmp_path, stub_templates):
    rendered = generate(
        "esm2", size="35M", layer=7, overrides=["sae.top_k=40"], templates=stub_templates
    )
    data = yaml.safe_load(rendered.files["recipe.yaml"])
    assert data["recipegen_version"] == __version__
    assert data["spec"]["name"] == "esm2" and data["spec"]["source"] == "builtin"
    assert len(data["spec"]["sha256"]) == 64
    assert (data["size"], data["layer"], data["overrides"]) == ("35M", 7, ["sae.top_k=40"])
    assert data["template_sha256"] == template_hash(stub_templates, "hf")
    import hashlib

    for name, digest in data["files"].items():
        assert hashlib.sha256(rendered.files[name].encode()).hexdigest() == digest
    assert set(data["files"]) == EXPECTED_FILES - {"recipe.yaml"}
    assert data["resolved_spec"]["sae"]["top_k"] == 40


def test_write_new_then_rewrite_is_a_byte_identical_noop(tmp_path, stub_templates):
    rendered = generate("esm2", templates=stub_templates)
    dest = tmp_path / "out" / rendered.dirname
    write(dest, rendered.files)
    assert {p.name for p in dest.iterdir()} == EXPECTED_FILES | {".recipegen"}
    assert os.access(dest / "launch.sh", os.X_OK) and not os.access(dest / "train.py", os.X_OK)
    before = snapshot(dest)
    result = write(dest, generate("esm2", templates=stub_templates).files)
    assert result.noop and snapshot(dest) == before
    assert not [p for p in dest.parent.iterdir() if p.name.startswith(".")]  # no temp/backup dir


def test_edited_files_are_listed_and_nothing_changes(tmp_path, stub_templates):
    dest = tmp_path / "esm2_sae"
    write(dest, generate("esm2", templates=stub_templates).files)
    (dest / "train.py").write_text("# my edit\n")
    (dest / "README.md").unlink()
    before = snapshot(dest)
    changed = generate("esm2", overrides=["sae.top_k=12"], templates=stub_templates)
    with pytest.raises(EditedFilesError) as info:
        write(dest, changed.files)
    assert info.value.edited == ["README.md (deleted)", "train.py"]
    assert "--force" in str(info.value)
    assert snapshot(dest) == before


def test_force_overwrites_edits_and_keeps_unrelated_files(tmp_path, stub_templates):
    dest = tmp_path / "esm2_sae"
    write(dest, generate("esm2", templates=stub_templates).files)
    (dest / "train.py").write_text("# my edit\n")
    (dest / "notes.txt").write_text("mine\n")
    rendered = generate("esm2", templates=stub_templates)
    write(dest, rendered.files, force=True)
    assert (dest / "train.py").read_text() == rendered.files["train.py"]
    assert (dest / "notes.txt").read_text() == "mine\n"
    (only,) = diff_recipe(dest, stub_templates).splitlines()  # the file check did not generate
    assert only.startswith(f"{dest / 'notes.txt'}: a file recipegen did not generate")


def test_unedited_output_is_updated_when_the_spec_changes(tmp_path, stub_templates):
    dest = tmp_path / "esm2_sae"
    write(dest, generate("esm2", templates=stub_templates).files)
    result = write(
        dest, generate("esm2", overrides=["sae.top_k=12"], templates=stub_templates).files
    )
    assert (
        result.status["train.py"] == "changed" and "TOP_K = 12" in (dest / "train.py").read_text()
    )


def test_directory_without_recipe_yaml_is_refused(tmp_path, stub_templates):
    dest = tmp_path / "esm2_sae"
    dest.mkdir()
    (dest / "precious.txt").write_text("x")
    with pytest.raises(EditedFilesError, match="precious.txt"):
        write(dest, generate("esm2", templates=stub_templates).files)
    assert [p.name for p in dest.iterdir()] == ["precious.txt"]


def test_mid_render_failure_leaves_no_partial_directory(tmp_path):
    broken = tmp_path / "templates"
    shutil.copytree(FIXTURE_TEMPLATES, broken)
    # README.md is rendered among the other files: an undefined name raises.
    (broken / "README.md.j2").write_text("# {{ spec.name }}\n{{ spec.no_such_key }}\n")
    out = tmp_path / "out"
    with pytest.raises(GeneratorError, match=r"README\.md\.j2:2.*no_such_key"):
        write(out / "esm2_sae", generate("esm2", templates=TemplateSource(broken)).files)
    assert not out.exists()


def test_failure_while_writing_leaves_no_partial_directory(tmp_path, stub_templates):
    rendered = generate("esm2", templates=stub_templates)
    files = dict(rendered.files)
    files["sub/../../escape.txt"] = "x"  # cannot be created inside the temp dir: write fails
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(OSError):
        write(out / "esm2_sae", files)
    assert list(out.iterdir()) == []


def test_check_is_clean_then_reports_drift_as_a_unified_diff(tmp_path, stub_templates):
    dest = tmp_path / "esm2_sae"
    write(dest, generate("esm2", templates=stub_templates).files)
    assert diff_recipe(dest, stub_templates) == ""
    text = (dest / "train.py").read_text().replace("TOP_K = 32", "TOP_K = 33")
    (dest / "train.py").write_text(text)
    diff = diff_recipe(dest, stub_templates)
    assert f"--- {dest / 'train.py'} (generated)" in diff and f"+++ {dest / 'train.py'}" in diff
    assert "-TOP_K = 32\n+TOP_K = 33" in diff


def test_check_sees_template_changes(tmp_path):
    templates = tmp_path / "templates"
    shutil.copytree(FIXTURE_TEMPLATES, templates)
    dest = tmp_path / "esm2_sae"
    write(dest, generate("esm2", templates=TemplateSource(templates)).files)
    (templates / "eval.py.j2").write_text('"""Changed."""\n')
    diff = diff_recipe(dest, TemplateSource(templates))
    assert "+++ " + str(dest / "eval.py") in diff and '-"""Changed."""' in diff


def test_check_missing_or_bad_recipe_yaml_is_a_clear_error(tmp_path, stub_templates):
    with pytest.raises(GeneratorError, match="recipe.yaml: not found"):
        diff_recipe(tmp_path, stub_templates)
    (tmp_path / "recipe.yaml").write_text("files: [\n")
    with pytest.raises(GeneratorError, match="recipe.yaml.*malformed YAML"):
        diff_recipe(tmp_path, stub_templates)
    (tmp_path / "recipe.yaml").write_text("spec: {name: esm2}\n")
    with pytest.raises(GeneratorError, match="'files' is missing"):
        diff_recipe(tmp_path, stub_templates)


def test_user_spec_recipe_rechecks_without_the_spec_file(tmp_path, stub_templates):
    spec = tmp_path / "mine.yaml"
    spec.write_text(
        "name: mine\nextraction: {kind: hf, checkpoint: org/m}\n"
        "sizes: {s: {n_layers: 2, hidden_dim: 16, context_length: 64}}\n"
        "sae: {top_k: 4, auxk: 8}\n"
    )
    rendered = generate(spec_path=str(spec), overrides=["sae.lr=0.001"], templates=stub_templates)
    dest = tmp_path / "out" / rendered.dirname
    write(dest, rendered.files)
    spec.unlink()
    assert prov.read(dest).source == "file"
    assert diff_recipe(dest, stub_templates) == ""


def test_stub_launch_sh_parses(tmp_path, stub_templates):
    dest = tmp_path / "esm2_sae"
    write(dest, generate("esm2", templates=stub_templates).files)
    subprocess.run(["bash", "-n", str(dest / "launch.sh")], check=True)
