"""Which files `recipegen lint` reads: named paths versus `exclude` (ruff semantics, issue 25),
special filesystems (issue 22 item 11), and bad `[tool.*]` tables (issue 22 item 8)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from recipegen.validators.config import LintConfig
from recipegen.validators.engine import discover

from recipegen.cli import main

BAD_LOAD = "import torch\nckpt = torch.load('c.pt')\n"


def run(args, cwd):
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(main, args, catch_exceptions=False)
    finally:
        os.chdir(old)


@pytest.fixture
def proj(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.recipegen.lint]\nexclude = ["tests", "recipes/*/work"]\n'
    )
    for rel in ("tests/fixtures/eval.py", "recipes/a/work/eval.py", "recipes/a/eval.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(BAD_LOAD)
    return tmp_path


def test_a_named_folder_is_linted_although_exclude_matches_it(proj):
    res = run(["lint", "tests/fixtures"], proj)
    assert res.exit_code == 1, res.output
    assert "tests/fixtures/eval.py:2:" in res.output and "SAE306" in res.output


def test_a_named_file_is_linted_although_exclude_matches_it(proj):
    res = run(["lint", "recipes/a/work/eval.py"], proj)
    assert res.exit_code == 1 and "recipes/a/work/eval.py:2:" in res.output, res.output


def test_a_walk_from_above_still_prunes_excluded_folders(proj):
    res = run(["lint", "."], proj)
    assert res.exit_code == 1, res.output
    assert "recipes/a/eval.py:2:" in res.output
    assert "tests/fixtures" not in res.output and "work/eval.py" not in res.output
    assert "in 1 file(s)" in res.output


def test_force_exclude_drops_named_paths_that_exclude_matches(proj):
    res = run(["lint", "--force-exclude", "tests/fixtures", "recipes/a/work/eval.py"], proj)
    assert res.exit_code == 0, res.output
    assert "0 file(s)" in res.output
    res = run(["lint", "--force-exclude", "recipes/a/eval.py"], proj)
    assert res.exit_code == 1 and "recipes/a/eval.py:2:" in res.output


def test_a_named_folder_emptied_by_exclude_is_an_error_naming_the_pattern(proj):
    (proj / "recipes/b/work").mkdir(parents=True)
    (proj / "recipes/b/work/x.py").write_text(BAD_LOAD)
    res = run(["lint", "recipes/b"], proj)
    assert res.exit_code == 2, res.output
    assert "recipes/b: nothing to lint" in res.output
    assert "'recipes/*/work'" in res.output and "pyproject.toml" in res.output


def test_a_named_folder_with_no_scripts_is_not_an_error(proj):
    (proj / "docs").mkdir()
    (proj / "docs/readme.md").write_text("# x\n")
    res = run(["lint", "docs"], proj)
    assert res.exit_code == 0 and "0 file(s)" in res.output, res.output


def test_exclude_patterns_match_whole_components():
    cfg = LintConfig(exclude=["tests", "recipes/*/work", "*_old.py"])
    assert cfg.excluding("tests/a.py") == "tests"
    assert cfg.excluding("x/tests/a.py") == "tests"
    assert cfg.excluding("recipes/a/work/e.py") == "recipes/*/work"
    assert cfg.excluding("recipes/a/b/work/e.py") is None  # one `*` is one component
    assert cfg.excluding("src/train_old.py") == "*_old.py"
    assert cfg.excluding("testsuite/a.py") is None
    assert cfg.excluding("tests/lint/a.py", named_depth=2) is None  # below a named tests/lint
    assert cfg.excluding("tests/lint/x_old.py", named_depth=2) == "*_old.py"


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs a Linux /proc")
def test_special_filesystems_are_never_walked(tmp_path):
    res = run(["lint", "/proc"], tmp_path)
    assert res.exit_code == 2 and "special filesystem" in res.output, res.output
    # walking `/` stays on its filesystem: /proc, /sys and /dev are other mounts and pruned
    seen = []
    real_walk = os.walk

    def spy(top, *a, **k):
        for entry in real_walk(top, *a, **k):
            seen.append(entry[0])
            entry[1][:] = (
                [d for d in entry[1] if d in ("proc", "sys", "dev")] if entry[0] == "/" else []
            )
            yield entry

    os.walk = spy
    try:
        discover([Path("/")], LintConfig(root=tmp_path))
    finally:
        os.walk = real_walk
    assert seen[0] == "/" and not any(s.startswith(("/proc", "/sys", "/dev")) for s in seen)


@pytest.mark.parametrize(
    "toml, key",
    [
        ('tool = "x"\n', "`tool` must be a table"),
        ("tool = 1\n", "`tool` must be a table"),
        ("[tool.recipegen]\nsae-features = [[1]]\n", "`sae-features` must be a list of strings"),
        ("[tool]\nrecipegen = 3\n", "`tool.recipegen` must be a table"),
        ("[tool.recipegen]\nlint = 3\n", "`tool.recipegen.lint` must be a table"),
        ("[tool.recipegen]\nsae-version = 1\n", "`sae-version` must be a string"),
        ("[tool.recipegen.lint]\nper-file-ignores = {a = 1}\n", "`per-file-ignores`"),
    ],
)
def test_bad_config_tables_exit_2_naming_the_key(tmp_path, toml, key):
    (tmp_path / "pyproject.toml").write_text(toml)
    (tmp_path / "a.py").write_text("x = 1\n")
    res = run(["lint", "a.py"], tmp_path)
    assert res.exit_code == 2, res.output
    assert key in res.output and "pyproject.toml" in res.output
    assert "Traceback" not in res.output


def test_a_bad_pin_in_a_nested_recipe_pyproject_exits_2(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "r").mkdir()
    (tmp_path / "r/pyproject.toml").write_text("[tool.recipegen]\nsae-features = [[1]]\n")
    (tmp_path / "r/a.py").write_text("x = 1\n")
    res = run(["lint", "."], tmp_path)
    assert res.exit_code == 2 and "`sae-features` must be a list of strings" in res.output
