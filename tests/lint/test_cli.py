"""`recipegen lint/rule/rules` through click: exit codes, formats, suppression, config."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from recipegen.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
BAD_LOAD = "import torch\nckpt = torch.load('c.pt')\n"


def run(args, cwd):
    """Invoke the real click group from `cwd` (paths in output are relative to it)."""
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(main, args, catch_exceptions=False)
    finally:
        os.chdir(old)


@pytest.fixture
def proj(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    return tmp_path


def test_clean_tree_exits_0(proj):
    shutil.copytree(FIXTURES / "good_recipe", proj / "recipe")
    res = run(["lint", "recipe"], proj)
    assert res.exit_code == 0, res.output
    assert "All checks passed (4 file(s))" in res.output


def test_findings_exit_1_with_ruff_style_lines(proj):
    (proj / "eval.py").write_text(BAD_LOAD)
    res = run(["lint"], proj)
    assert res.exit_code == 1
    assert "eval.py:2:8: SAE306 " in res.output


def test_bad_select_code_exits_2_with_message(proj):
    res = run(["lint", "--select", "SAE999", "."], proj)
    assert res.exit_code == 2
    assert "SAE999" in res.output and "--select" in res.output


def test_missing_path_exits_2(proj):
    res = run(["lint", "nope/"], proj)
    assert res.exit_code == 2 and "nope" in res.output


def test_select_ignore_prefixes(proj):
    (proj / "eval.py").write_text(BAD_LOAD)
    assert run(["lint", "--select", "SAE2"], proj).exit_code == 0
    assert run(["lint", "--ignore", "SAE3"], proj).exit_code == 0
    assert run(["lint", "--select", "SAE2", "--extend-select", "SAE306"], proj).exit_code == 1


def test_noqa_and_unused_noqa(proj):
    (proj / "a.py").write_text("import torch\nc = torch.load('c.pt')  # noqa: SAE306\n")
    assert run(["lint"], proj).exit_code == 0
    (proj / "b.py").write_text("import torch\nc = torch.load('c.pt')  # noqa\n")
    assert run(["lint"], proj).exit_code == 0
    (proj / "c.py").write_text("x = 1  # noqa: SAE306\n")
    res = run(["lint"], proj)
    assert res.exit_code == 1 and "c.py:1:8: SAE902" in res.output


def test_shell_disable_comment(proj):
    (proj / "l.sh").write_text("python train.py --wandb  # recipegen: disable=SAE206\n")
    assert run(["lint"], proj).exit_code == 0
    (proj / "m.sh").write_text("# recipegen: disable-file=SAE206\npython train.py --wandb\n")
    assert run(["lint"], proj).exit_code == 0
    (proj / "n.sh").write_text("python train.py --wandb\n")
    res = run(["lint"], proj)
    assert res.exit_code == 1 and res.output.count("SAE206") == 2


def test_pyproject_config_select_ignore_and_per_file_ignores(proj):
    (proj / "eval.py").write_text(BAD_LOAD)
    (proj / "legacy").mkdir()
    (proj / "legacy" / "convert.py").write_text(BAD_LOAD)
    cfg = proj / "pyproject.toml"
    cfg.write_text(
        cfg.read_text() + '[tool.recipegen.lint]\nper-file-ignores = {"legacy/*" = ["SAE306"]}\n'
    )
    res = run(["lint", "--output-format", "json"], proj)
    assert res.exit_code == 1
    assert [f["filename"] for f in json.loads(res.output)] == ["eval.py"]
    cfg.write_text(cfg.read_text() + 'ignore = ["SAE3"]\n')
    assert run(["lint"], proj).exit_code == 0


def test_bad_config_is_a_usage_error(proj):
    cfg = proj / "pyproject.toml"
    cfg.write_text(cfg.read_text() + '[tool.recipegen.lint]\nselect = ["SAE777"]\n')
    res = run(["lint"], proj)
    assert res.exit_code == 2 and "select" in res.output and "SAE777" in res.output
    cfg.write_text('[tool.recipegen.lint]\nslect = ["SAE1"]\n')
    res = run(["lint"], proj)
    assert res.exit_code == 2 and "slect" in res.output


def test_explicit_config_file(proj):
    (proj / "eval.py").write_text(BAD_LOAD)
    (proj / "lint.toml").write_text('[tool.recipegen.lint]\nignore = ["SAE306"]\n')
    assert run(["lint", "--config", "lint.toml"], proj).exit_code == 0
    assert run(["lint", "--config", "missing.toml"], proj).exit_code == 2


def test_statistics(proj):
    (proj / "a.py").write_text(BAD_LOAD + BAD_LOAD.replace("import torch\n", ""))
    (proj / "l.sh").write_text("huggingface-cli download x\n")
    res = run(["lint", "--statistics"], proj)
    assert res.exit_code == 1
    lines = res.output.strip().splitlines()
    assert lines[0].split() == ["2", "SAE306", "unsafe-torch-load"]
    assert lines[1].split() == ["1", "SAE210", "huggingface-cli-deprecated"]


def test_github_format(proj):
    (proj / "a.py").write_text(BAD_LOAD)
    res = run(["lint", "--output-format", "github"], proj)
    assert res.output.startswith("::error file=a.py,line=2,col=8,title=SAE306::SAE306 ")


def test_sarif_structure_and_stable_fingerprints(proj):
    (proj / "sub").mkdir()
    (proj / "sub" / "a.py").write_text(BAD_LOAD)
    first = json.loads(run(["lint", "--output-format", "sarif"], proj).output)
    assert first["version"] == "2.1.0" and "sarif-2.1.0" in first["$schema"]
    run0 = first["runs"][0]
    rules = run0["tool"]["driver"]["rules"]
    assert {"SAE102", "SAE901"} <= {r["id"] for r in rules}
    assert all(r["help"]["text"] and r["shortDescription"]["text"] for r in rules)
    (res,) = run0["results"]
    assert rules[res["ruleIndex"]]["id"] == res["ruleId"] == "SAE306"
    loc = res["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "sub/a.py"  # relative, POSIX
    assert loc["region"] == {"startLine": 2, "startColumn": 8}
    fp = res["partialFingerprints"]["recipegenFingerprint/v1"]
    # a line inserted above moves the finding but keeps its fingerprint
    (proj / "sub" / "a.py").write_text("# header\n" + BAD_LOAD)
    second = json.loads(run(["lint", "--output-format", "sarif"], proj).output)
    (res2,) = second["runs"][0]["results"]
    assert res2["locations"][0]["physicalLocation"]["region"]["startLine"] == 3
    assert res2["partialFingerprints"]["recipegenFingerprint/v1"] == fp


def test_parse_errors_are_findings_not_crashes(proj):
    (proj / "broken.py").write_text("def f(:\n")
    (proj / "bad.sh").write_bytes(b"echo \xff\xfe\n")
    (proj / "nul.py").write_bytes(b"x = 1\x00\n")
    (proj / "q.sh").write_text("echo 'open\n")
    res = run(["lint", "--output-format", "json"], proj)
    assert res.exit_code == 1
    assert sorted((f["filename"], f["code"]) for f in json.loads(res.output)) == [
        ("bad.sh", "SAE901"),
        ("broken.py", "SAE901"),
        ("nul.py", "SAE901"),
        ("q.sh", "SAE901"),
    ]


def test_shebang_files_are_discovered(proj):
    (proj / "run_sweep").write_text("#!/bin/bash\nhuggingface-cli download x\n")
    (proj / "notes.txt").write_text("huggingface-cli\n")
    res = run(["lint"], proj)
    assert "run_sweep:2:1: SAE210" in res.output and "notes.txt" not in res.output


def test_rule_and_rules_commands(proj):
    res = run(["rule", "SAE102"], proj)
    assert res.exit_code == 0 and "opt-in-flag-not-wired" in res.output
    assert "## Why is this bad?" in res.output
    assert run(["rule", "SAE999"], proj).exit_code == 2
    listing = json.loads(run(["rules", "--output-format", "json"], proj).output)
    assert {r["code"] for r in listing} >= {"SAE101", "SAE212", "SAE306", "SAE902"}
    md = run(["rules", "--output-format", "markdown"], proj).output
    for r in listing:
        assert f"## {r['code']} {r['name']}" in md
    assert "domain facts (docs/gotchas.md)" in md
    assert "SAE205  dp-size-mismatch" in run(["rules"], proj).output


def test_pre_commit_hook_manifest(repo_root):
    import yaml

    (hook,) = yaml.safe_load((repo_root / ".pre-commit-hooks.yaml").read_text())
    assert (
        hook["id"] == "recipegen-lint" and hook["entry"] == "recipegen lint --force-exclude"
    )  # ruff-style hook
    assert hook["language"] == "python" and set(hook["types_or"]) == {"python", "shell"}


def test_internal_rule_error_exits_2_and_keeps_other_findings(proj, monkeypatch):
    import dataclasses

    from recipegen.validators import engine
    from recipegen.validators.registry import all_rules

    def boom(ctx):
        raise RuntimeError("bug")

    rules = [dataclasses.replace(r, check=boom) if r.code == "SAE104" else r for r in all_rules()]
    monkeypatch.setattr(engine, "all_rules", lambda: rules)
    (proj / "a.py").write_text(BAD_LOAD)
    res = run(["lint"], proj)
    assert res.exit_code == 2
    assert "internal error in SAE104" in res.output and "SAE306" in res.output


def test_file_level_disable_in_python(proj):
    (proj / "a.py").write_text("# recipegen: disable-file=SAE306\n" + BAD_LOAD)
    assert run(["lint"], proj).exit_code == 0
