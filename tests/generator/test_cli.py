"""`recipegen new/list/show/check` through the real click entry point and the real templates."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from gen_helpers import KINDS, MODELS, require_templates
from recipegen.generator.render import template_names

from recipegen.cli import main

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, cwd: Path | None = None):
    runner = CliRunner()
    if cwd is None:
        return runner.invoke(main, list(args))
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return runner.invoke(main, list(args))
    finally:
        os.chdir(old)


def snapshot(directory: Path) -> dict:
    return {
        str(p.relative_to(directory)): (p.read_bytes(), p.stat().st_mode, p.stat().st_mtime_ns)
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_list_shows_models_and_sizes():
    result = cli("list")
    assert result.exit_code == 0
    for model in MODELS:
        assert model in result.output
    assert "8M* (L5/6)" in result.output and "7B* (L26/32)" in result.output


def test_show_prints_the_resolved_spec_as_yaml():
    result = cli("show", "esm2", "--size", "650M", "--set", "sae.top_k=48")
    assert result.exit_code == 0, result.output
    data = yaml.safe_load(result.output)
    assert data["model"]["checkpoint"] == "facebook/esm2_t33_650M_UR50D"
    assert (data["size"], data["layer"], data["sae"]["top_k"]) == ("650M", 24, 48)


def test_unknown_model_lists_known_models():
    for command in ("new", "show"):
        result = cli(command, "esm3")
        assert result.exit_code == 2
        assert "unknown model 'esm3'; known models: antiberty, codonfm, esm2, evo2" in result.output


def test_bad_spec_error_names_file_line_field_and_fix(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: bad\nextraction: {kind: hf, checkpoint: x}\nsizes: {s: {n_layers: 2}}\n")
    result = cli("new", "--spec", str(spec), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert (
        f"{spec}:3: sizes.s.hidden_dim: required key is missing (fix: add `hidden_dim:`"
        in result.output
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("model", MODELS)
def test_new_writes_the_recipe_and_twice_changes_nothing(tmp_path, model):
    require_templates(model)
    result = cli("new", model, "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    recipe = tmp_path / f"{model}_sae"
    names = {p.name for p in recipe.iterdir()}
    # every rendered file, recipe.yaml, and the recorded renders that `update` merges against
    assert names == set(template_names(KINDS[model])) | {"recipe.yaml", ".recipegen"}
    before = snapshot(recipe)
    result = cli("new", model, "--out", str(tmp_path))
    assert result.exit_code == 0 and "up to date, nothing changed" in result.output
    assert snapshot(recipe) == before
    assert cli("check", str(recipe)).exit_code == 0


@pytest.mark.parametrize("model", MODELS)
def test_rendered_python_passes_ruff_and_launch_sh_passes_bash_n(tmp_path, model):
    require_templates(model)
    assert cli("new", model, "--out", str(tmp_path)).exit_code == 0
    recipe = tmp_path / f"{model}_sae"
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    config = str(REPO / "pyproject.toml")
    py = sorted(str(p) for p in recipe.glob("*.py"))
    # extract, train, eval, analyze + the kind's own files (stand-in, adapter, predict module)
    assert {Path(p).name for p in py} == {
        n for n in template_names(KINDS[model]) if n.endswith(".py")
    }
    assert len(py) >= 5
    check = subprocess.run([ruff, "check", "--config", config, *py], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    fmt = subprocess.run(
        [ruff, "format", "--check", "--diff", "--config", config, *py],
        capture_output=True,
        text=True,
    )
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
    bash = subprocess.run(["bash", "-n", str(recipe / "launch.sh")], capture_output=True, text=True)
    assert bash.returncode == 0, bash.stderr
    assert os.access(recipe / "launch.sh", os.X_OK)


def test_dry_run_writes_nothing(tmp_path):
    require_templates("esm2")
    result = cli("new", "esm2", "--out", str(tmp_path / "out"), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "would write" in result.output and "new       train.py" in result.output
    assert not (tmp_path / "out").exists()
    assert cli("new", "esm2", "--out", str(tmp_path / "out")).exit_code == 0
    before = snapshot(tmp_path / "out")
    result = cli("new", "esm2", "--out", str(tmp_path / "out"), "--dry-run", "--set", "sae.top_k=9")
    assert "changed   train.py" in result.output and "unchanged eval.py" in result.output
    assert snapshot(tmp_path / "out") == before


def test_edited_files_are_refused_then_forced(tmp_path):
    require_templates("esm2")
    assert cli("new", "esm2", "--out", str(tmp_path)).exit_code == 0
    recipe = tmp_path / "esm2_sae"
    with open(recipe / "launch.sh", "a") as f:
        f.write("# local tweak\n")
    before = snapshot(recipe)
    result = cli("new", "esm2", "--out", str(tmp_path), "--set", "sae.top_k=16")
    assert result.exit_code == 2
    assert (
        "launch.sh" in result.output
        and "--force" in result.output
        and "train.py" not in result.output
    )
    assert snapshot(recipe) == before
    result = cli("new", "esm2", "--out", str(tmp_path), "--set", "sae.top_k=16", "--force")
    assert result.exit_code == 0, result.output
    assert "# local tweak" not in (recipe / "launch.sh").read_text()
    assert "default=16," in (recipe / "train.py").read_text()
    assert cli("check", str(recipe)).exit_code == 0


def test_check_exit_codes_and_diff(tmp_path):
    require_templates("esm2")
    assert cli("new", "esm2", "--out", str(tmp_path)).exit_code == 0
    recipe = tmp_path / "esm2_sae"
    result = cli("check", str(recipe))
    assert result.exit_code == 0 and f"ok {recipe}" in result.output
    train = recipe / "train.py"
    train.write_text(train.read_text().replace("default=32,", "default=33,", 1))
    result = cli("check", str(recipe))
    assert result.exit_code == 1
    assert f"--- {train} (generated)" in result.output and f"+++ {train}" in result.output
    assert "-        default=32,\n+        default=33," in result.output
    (recipe / "eval.py").unlink()
    result = cli("check", str(recipe))
    assert result.exit_code == 1 and f"+++ {recipe / 'eval.py'} (missing)" in result.output


def test_check_without_recipe_yaml_is_an_error(tmp_path):
    result = cli("check", str(tmp_path))
    assert result.exit_code == 2 and "recipe.yaml: not found" in result.output
    (tmp_path / "recipe.yaml").write_text("!!python/object:os.system {}\n")
    result = cli("check", str(tmp_path))
    assert result.exit_code == 2 and "not allowed" in result.output


def test_check_defaults_to_recipes_under_cwd(tmp_path):
    require_templates("esm2")
    assert cli("new", "esm2", cwd=tmp_path).exit_code == 0  # default --out ./recipes
    assert (tmp_path / "recipes" / "esm2_sae" / "recipe.yaml").is_file()
    result = cli("check", cwd=tmp_path)
    assert result.exit_code == 0 and "ok recipes/esm2_sae" in result.output


def test_hf_config_json_shortcut_renders(tmp_path):
    require_templates("esm2")
    config = tmp_path / "config.json"
    config.write_text(
        '{"model_type": "esm", "_name_or_path": "facebook/esm2_t6_8M_UR50D", "hidden_size": 320,'
        ' "num_hidden_layers": 6, "max_position_embeddings": 1026}'
    )
    result = cli("new", "my_esm", "--spec", str(config), "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    recipe = tmp_path / "out" / "my_esm_sae"
    # the checkpoint is the folder holding config.json, not `_name_or_path`
    launch = (recipe / "launch.sh").read_text()
    assert f"D_CHECKPOINT={tmp_path.resolve()}" in launch and "facebook/" not in launch
    config.unlink()
    assert cli("check", str(recipe)).exit_code == 0


def test_committed_recipes_have_no_drift():
    require_templates()
    dirs = sorted(str(p.parent) for p in (REPO / "recipes").glob("*/recipe.yaml"))
    assert {Path(d).name for d in dirs} >= {"esm2_sae", "codonfm_sae", "evo2_sae"}
    result = cli("check", *dirs)
    assert result.exit_code == 0, result.output


def test_unusable_paths_are_clear_errors(tmp_path):
    result = cli("new", "esm2", "--out", "/dev/null")
    assert (
        result.exit_code == 2 and "cannot write the recipe under --out '/dev/null'" in result.output
    )
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("root:x:0:0:root:/root:/bin/bash\n")
    for spec, message in (
        (str(scalar), "a spec must be a YAML mapping"),
        ("/dev/zero", "no such file"),
        (str(tmp_path / "missing.yaml"), "no such file"),
    ):
        result = cli("new", "--spec", spec, "--out", str(tmp_path / "out"))
        assert result.exit_code == 2 and message in result.output, result.output
    big = tmp_path / "big.yaml"
    big.write_text("#" * 1_000_001)
    result = cli("new", "--spec", str(big), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2 and "larger than" in result.output
    assert not (tmp_path / "out").exists()
