"""`recipegen skill install`: fresh, idempotent, refuses edited copies, --force, atomic."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile

import pytest
from click.testing import CliRunner
from skill_pages import REPO_ROOT, SKILL_DIR

from recipegen import skill_install
from recipegen.cli import main

MANIFEST = skill_install.MANIFEST


def _source_files() -> dict[str, bytes]:
    return {
        path.relative_to(SKILL_DIR).as_posix(): path.read_bytes()
        for path in SKILL_DIR.rglob("*.md")
    }


def _installed_files(target) -> dict[str, bytes]:
    return {
        path.relative_to(target).as_posix(): path.read_bytes()
        for path in target.rglob("*")
        if path.is_file() and path.name != MANIFEST
    }


def _install(*args):
    result = CliRunner().invoke(main, ["skill", "install", *args])
    return result


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_fresh_install_into_default_dest(in_tmp):
    result = _install()
    assert result.exit_code == 0, result.output
    target = in_tmp / ".agents" / "skills" / "sae-recipe"
    assert result.output.strip() == f"installed: {target.relative_to(in_tmp)}"
    assert _installed_files(target) == _source_files()
    manifest = json.loads((target / MANIFEST).read_text())
    assert manifest["skill"] == "sae-recipe"
    assert set(manifest["files"]) == set(_source_files())
    assert (target / "references" / "rules.md").is_file()
    (in_tmp / "plain").mkdir()
    assert target.stat().st_mode == (in_tmp / "plain").stat().st_mode  # not mkdtemp's 0700


def test_reinstall_of_unedited_copy_is_a_no_op(in_tmp):
    assert _install("--dest", "skills").exit_code == 0
    target = in_tmp / "skills" / "sae-recipe"
    before = {p: p.stat().st_mtime_ns for p in target.rglob("*")}
    result = _install("--dest", "skills")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("unchanged: ")
    assert {p: p.stat().st_mtime_ns for p in target.rglob("*")} == before


def test_unedited_older_copy_is_updated(in_tmp):
    """A copy from an older recipegen (manifest consistent with its files) is replaced."""
    assert _install("--dest", "skills").exit_code == 0
    target = in_tmp / "skills" / "sae-recipe"
    old = b"# an older SKILL.md\n"
    (target / "SKILL.md").write_bytes(old)
    (target / "references" / "gone.md").write_bytes(b"removed upstream\n")
    manifest = json.loads((target / MANIFEST).read_text())
    manifest["files"]["SKILL.md"] = skill_install._sha256(old)
    manifest["files"]["references/gone.md"] = skill_install._sha256(b"removed upstream\n")
    (target / MANIFEST).write_text(json.dumps(manifest))
    result = _install("--dest", "skills")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("updated: ")
    assert _installed_files(target) == _source_files()


@pytest.mark.parametrize("edit", ["modify", "delete", "add", "no-manifest", "bad-manifest"])
def test_edited_copy_is_refused_then_forced(in_tmp, edit):
    assert _install("--dest", "skills").exit_code == 0
    target = in_tmp / "skills" / "sae-recipe"
    skill_md = target / "SKILL.md"
    if edit == "modify":
        skill_md.write_text(skill_md.read_text() + "\nOur team runs on 4 GPUs.\n")
        expected = "modified: SKILL.md"
    elif edit == "delete":
        (target / "references" / "eval.md").unlink()
        expected = "deleted: references/eval.md"
    elif edit == "add":
        (target / "references" / "local.md").write_text("house rules\n")
        expected = "added: references/local.md"
    elif edit == "no-manifest":
        (target / MANIFEST).unlink()
        expected = f"no {MANIFEST}"
    else:
        (target / MANIFEST).write_text("{not json")
        expected = f"{MANIFEST} unreadable"
    edited = _installed_files(target)

    refused = _install("--dest", "skills")
    assert refused.exit_code == 1
    assert expected in refused.output
    assert "--force" in refused.output
    assert _installed_files(target) == edited

    forced = _install("--dest", "skills", "--force")
    assert forced.exit_code == 0, forced.output
    assert forced.output.startswith("updated: ")
    assert _installed_files(target) == _source_files()
    assert skill_install.find_edits(target) == []
    assert sorted(p.name for p in (in_tmp / "skills").iterdir()) == ["sae-recipe"]


def test_dest_occupied_by_a_file_is_an_error(in_tmp):
    (in_tmp / "skills").mkdir()
    (in_tmp / "skills" / "sae-recipe").write_text("not a folder")
    result = _install("--dest", "skills", "--force")
    assert result.exit_code == 1
    assert "is not a directory" in result.output


def test_failed_write_leaves_previous_copy_and_no_debris(in_tmp, monkeypatch):
    assert _install("--dest", "skills").exit_code == 0
    target = in_tmp / "skills" / "sae-recipe"
    (target / "SKILL.md").write_text("edited\n")
    before = _installed_files(target)

    def half_write(directory, content):
        (directory / "SKILL.md").write_text("partial")
        raise OSError("disk full")

    monkeypatch.setattr(skill_install, "_write_copy", half_write)
    with pytest.raises(OSError, match="disk full"):
        skill_install.install_skill(in_tmp / "skills", force=True)
    assert _installed_files(target) == before
    assert sorted(p.name for p in (in_tmp / "skills").iterdir()) == ["sae-recipe"]


def test_show_and_path():
    runner = CliRunner()
    shown = runner.invoke(main, ["skill", "show"])
    assert shown.exit_code == 0
    assert shown.output == (SKILL_DIR / "SKILL.md").read_text(encoding="utf-8")
    page = runner.invoke(main, ["skill", "show", "troubleshooting"])
    assert page.output == (SKILL_DIR / "references" / "troubleshooting.md").read_text()
    missing = runner.invoke(main, ["skill", "show", "nope"])
    assert missing.exit_code == 2
    assert "references/eval.md" in missing.output
    path = runner.invoke(main, ["skill", "path"])
    assert path.output.strip() == str(SKILL_DIR)


def test_wheel_ships_the_skill_and_installs_from_it(tmp_path):
    """Build the real wheel; the skill must come out of the package data, not the checkout."""
    src = tmp_path / "src"  # build from a copy: an in-tree build would write build/ here
    for name in ("pyproject.toml", "README.md"):
        src.mkdir(exist_ok=True)
        shutil.copy2(REPO_ROOT / name, src / name)
    for name in ("recipegen", "generator", "validators", "templates", "skill"):
        shutil.copytree(REPO_ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "dist"), str(src)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    (wheel,) = (tmp_path / "dist").glob("recipegen-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "site")
    for rel in _source_files():
        assert f"recipegen/skill/sae-recipe/{rel}" in names, rel
    code = (
        "import recipegen, sys; from pathlib import Path;"
        "from recipegen.skill_install import install_skill;"
        "assert Path(recipegen.__file__).parent.parent == Path(sys.argv[1]), recipegen.__file__;"
        "print(install_skill(Path(sys.argv[2])).status)"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "site"), str(tmp_path / "proj")],
        capture_output=True, text=True, env={"PYTHONPATH": str(tmp_path / "site")}, cwd=tmp_path,
        timeout=60,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "installed"
    assert _installed_files(tmp_path / "proj" / "sae-recipe") == _source_files()
