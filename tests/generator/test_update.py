"""`recipegen update` (3-way merge with real template changes), `recipegen diff`, and writes that
survive a real interruption (SIGKILL / SIGINT between two file moves)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from gen_helpers import require_templates
from recipegen.generator.check import diff_recipe
from recipegen.generator.generate import generate
from recipegen.generator.merge import _git_merge, python_merge
from recipegen.generator.render import TemplateSource
from recipegen.generator.write import write

from recipegen.cli import main

REPO = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("interrupt_worker.py")

# A real template change: one line of launch.sh.j2, one of train.py.j2, one of README.md.j2.
OLD_LINE, NEW_LINE = 'DEVICE="${DEVICE:-auto}"\n', 'DEVICE="${DEVICE:-cpu}"\n'
CHANGES = {
    "launch.sh.j2": (OLD_LINE, NEW_LINE),
    "train.py.j2": ('"train.py: done; checkpoint', '"train.py: finished; checkpoint'),
    "README.md.j2": ("## Run\n", "## Running it\n"),
}
FAR_EDIT = ("SMOKE=0\n", "SMOKE=0  # my note, far from the template change\n")
NEAR_EDIT = (OLD_LINE, 'DEVICE="${DEVICE:-cuda}"\n')


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def snapshot(directory: Path) -> dict:
    return {
        str(p.relative_to(directory)): (p.read_bytes(), p.stat().st_mode)
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} not found once in {path}"
    path.write_text(text.replace(old, new))


@pytest.fixture
def setup(tmp_path):
    """A copy of the shipped templates, an esm2 recipe rendered from it, then a template change."""
    require_templates("esm2")
    tpl = tmp_path / "templates"
    shutil.copytree(REPO / "templates", tpl)
    recipe = tmp_path / "esm2_sae"
    write(recipe, generate("esm2", templates=TemplateSource(tpl)).files)

    def change_templates():
        for name, (old, new) in CHANGES.items():
            edit(tpl / name, old, new)

    return recipe, tpl, change_templates


@pytest.fixture(params=["git", "python"])
def merger(request, monkeypatch, tmp_path):
    """Merge with `git merge-file`, or (no git on PATH) with the Python diff3."""
    if request.param == "git" and shutil.which("git") is None:
        pytest.skip("git is not installed")
    if request.param == "python":
        empty = tmp_path / "empty_path"
        empty.mkdir()
        monkeypatch.setenv("PATH", str(empty))
    return request.param


def test_far_edit_survives_and_template_change_lands(setup, merger):
    recipe, tpl, change_templates = setup
    edit(recipe / "launch.sh", *FAR_EDIT)
    edit(recipe / "train.py", "def fail(", "def fail(  # noqa: my own note\n    ")
    before_yaml = yaml.safe_load((recipe / "recipe.yaml").read_text())
    change_templates()

    result = cli("update", recipe, "--templates", tpl)
    assert result.exit_code == 0, result.output
    launch = (recipe / "launch.sh").read_text()
    assert FAR_EDIT[1] in launch and NEW_LINE in launch  # both sides kept
    assert OLD_LINE not in launch
    train = (recipe / "train.py").read_text()
    assert "my own note" in train and "train.py: finished;" in train
    assert "## Running it" in (recipe / "README.md").read_text()  # unedited: simply replaced
    assert (recipe / "launch.sh").stat().st_mode & 0o111
    assert "merged" in result.output and "launch.sh" in result.output

    after_yaml = yaml.safe_load((recipe / "recipe.yaml").read_text())
    assert after_yaml["template_sha256"] != before_yaml["template_sha256"]
    fresh = generate("esm2", templates=TemplateSource(tpl))
    assert after_yaml["files"] == yaml.safe_load(fresh.files["recipe.yaml"])["files"]

    # check (today's templates) and diff (recorded render) both show exactly the user's edits
    drift = diff_recipe(recipe, TemplateSource(tpl))
    assert "my note" in drift and "my own note" in drift and "DEVICE=" not in drift
    shown = cli("diff", recipe, "--templates", tpl)
    assert shown.exit_code == 1
    assert "+SMOKE=0  # my note" in shown.output and "-SMOKE=0\n" in shown.output
    assert "DEVICE=" not in shown.output and "README" not in shown.output

    again = cli("update", recipe, "--templates", tpl)
    assert again.exit_code == 0 and "up to date" in again.output


def test_overlapping_edit_conflicts_with_markers_and_exit_1(setup, merger):
    recipe, tpl, change_templates = setup
    edit(recipe / "launch.sh", *NEAR_EDIT)
    edit(recipe / "launch.sh", *FAR_EDIT)
    change_templates()

    result = cli("update", recipe, "--templates", tpl)
    assert result.exit_code == 1, result.output
    assert "conflict" in result.output.lower() and "launch.sh" in result.output
    launch = (recipe / "launch.sh").read_text()
    block = (
        f"<<<<<<< launch.sh (yours)\n{NEAR_EDIT[1]}=======\n{NEW_LINE}"
        ">>>>>>> launch.sh (new render)\n"
    )
    assert block in launch
    assert FAR_EDIT[1] in launch  # the clean part of the merge applied too
    # the other files were updated normally; recipe.yaml records the new render
    assert "train.py: finished;" in (recipe / "train.py").read_text()
    fresh = generate("esm2", templates=TemplateSource(tpl))
    assert (recipe / "recipe.yaml").read_text() == fresh.files["recipe.yaml"]

    # an update with conflict blocks still in place refuses and changes nothing
    before = snapshot(recipe)
    again = cli("update", recipe, "--templates", tpl)
    assert again.exit_code == 2 and "conflict markers" in again.output
    assert snapshot(recipe) == before


@pytest.mark.parametrize("templates_changed", [True, False])
def test_deleted_file_is_restored_so_check_and_update_agree(setup, templates_changed):
    recipe, tpl, change_templates = setup
    (recipe / "README.md").unlink()
    if templates_changed:
        change_templates()
    checked = cli("check", recipe) if not templates_changed else None
    if checked is not None:  # check reports the deletion and points at update
        assert checked.exit_code == 1 and "README.md (missing)" in checked.output
        assert f"recipegen update {recipe}" in checked.output
    result = cli("update", recipe, "--templates", tpl)
    assert result.exit_code == 0, result.output
    assert "restored" in result.output and "README.md" in result.output
    assert "up to date" not in result.output
    assert (recipe / "README.md").read_text() == generate(
        "esm2", templates=TemplateSource(tpl)
    ).files["README.md"]
    if templates_changed:
        assert NEW_LINE in (recipe / "launch.sh").read_text()
    else:
        assert cli("check", recipe).exit_code == 0
    again = cli("update", recipe, "--templates", tpl)
    assert again.exit_code == 0 and "up to date" in again.output


def test_dry_run_shows_the_diff_and_writes_nothing(setup):
    recipe, tpl, change_templates = setup
    edit(recipe / "launch.sh", *FAR_EDIT)
    change_templates()
    before = snapshot(recipe)
    result = cli("update", recipe, "--templates", tpl, "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"-{OLD_LINE}" in result.output and f"+{NEW_LINE}" in result.output
    assert "would update" in result.output
    assert snapshot(recipe) == before


@pytest.mark.parametrize("breakage", ["not_utf8", "symlink"])
def test_a_file_that_cannot_be_merged_means_nothing_is_written(setup, breakage):
    recipe, tpl, change_templates = setup
    edit(recipe / "launch.sh", *FAR_EDIT)
    if breakage == "not_utf8":
        (recipe / "train.py").write_bytes(b"\xff\xfe not text\n")
    else:
        (recipe / "train.py").unlink()
        (recipe / "train.py").symlink_to(recipe / "eval.py")
    change_templates()
    before = snapshot(recipe)
    result = cli("update", recipe, "--templates", tpl)
    assert result.exit_code == 2
    assert "train.py" in result.output and "Traceback" not in result.output
    assert snapshot(recipe) == before


def test_set_override_is_recorded_and_kept(setup):
    recipe, tpl, _ = setup
    result = cli("update", recipe, "--templates", tpl, "--set", "sae.top_k=16")
    assert result.exit_code == 0, result.output
    assert "default=16," in (recipe / "train.py").read_text().replace("\n", "").replace(" ", "")
    record = yaml.safe_load((recipe / "recipe.yaml").read_text())
    assert record["overrides"] == ["sae.top_k=16"]
    # a later update keeps the recorded override
    assert cli("update", recipe, "--templates", tpl).output.endswith(
        "up to date, nothing changed\n"
    )


def test_missing_recorded_render_refuses_for_edited_files_only(setup):
    recipe, tpl, change_templates = setup
    shutil.rmtree(recipe / ".recipegen")
    change_templates()
    # unedited files: the file itself is the recorded render (its hash matches recipe.yaml)
    assert cli("update", recipe, "--templates", tpl, "--dry-run").exit_code == 0
    edit(recipe / "launch.sh", *FAR_EDIT)
    before = snapshot(recipe)
    result = cli("update", recipe, "--templates", tpl)
    assert result.exit_code == 2 and "launch.sh" in result.output and "reproduced" in result.output
    assert snapshot(recipe) == before
    shown = cli("diff", recipe, "--templates", tpl)
    assert shown.exit_code == 2 and "launch.sh" in shown.output


def test_diff_without_edits_and_without_recipe(setup, tmp_path):
    recipe, tpl, _ = setup
    clean = cli("diff", recipe, "--templates", tpl)
    assert clean.exit_code == 0 and "no edits" in clean.output
    (recipe / "eval.py").unlink()
    gone = cli("diff", recipe, "--templates", tpl)
    assert gone.exit_code == 1 and "eval.py (deleted)" in gone.output
    missing = cli("diff", tmp_path / "nowhere")
    assert missing.exit_code == 2 and "recipe.yaml" in missing.output


MERGE_CASES = {
    "far apart": ("a\nb\nc\nd\ne\nf\n", "a\nB\nc\nd\ne\nf\n", "a\nb\nc\nd\ne\nF\n"),
    "touching": ("a\nb\nc\nd\n", "a\nB\nc\nd\n", "a\nb\nC\nd\n"),
    "same change": ("a\nb\nc\n", "a\nX\nc\n", "a\nX\nc\n"),
    "overlap": ("a\nb\nc\nd\n", "a\nY\nc\nd\n", "a\nZ\nc\nd\n"),
    "insert same place": ("a\nb\n", "a\nnew1\nb\n", "a\nnew2\nb\n"),
    "one side only": ("a\nb\nc\n", "a\nb\nc\n", "a\nb\nc\nd\n"),
    "delete vs edit": ("a\nb\nc\nd\n", "a\nd\n", "a\nb\nC\nd\n"),
}


@pytest.mark.skipif(shutil.which("git") is None, reason="compares with git merge-file")
@pytest.mark.parametrize("case", sorted(MERGE_CASES))
def test_python_merge_agrees_with_git_merge_file(case):
    base, ours, theirs = MERGE_CASES[case]
    assert python_merge(base, ours, theirs, "f") == _git_merge(base, ours, theirs, "f")


def _run_worker(command, recipe, tpl, sig, n):
    return subprocess.run(
        [sys.executable, str(WORKER), command, str(recipe), str(tpl), sig, str(n)],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("sig", ["KILL", "INT"])
@pytest.mark.parametrize("command", ["update", "new"])
def test_interrupted_write_is_finished_by_the_rerun(setup, tmp_path, sig, command):
    recipe, tpl, change_templates = setup
    if command == "update":
        edit(recipe / "launch.sh", *FAR_EDIT)
    change_templates()
    # the reference: the same write, uninterrupted, in a copy
    reference = tmp_path / "reference"
    shutil.copytree(recipe, reference, symlinks=True)
    done = _run_worker(command, reference, tpl, "KILL", 99)
    assert done.returncode == 0 and "finished" in done.stdout, done.stderr

    old_yaml = (recipe / "recipe.yaml").read_bytes()
    proc = _run_worker(command, recipe, tpl, sig, 1)
    assert proc.returncode != 0 and "finished" not in proc.stdout
    # a real mix: the first file moved, recipe.yaml (moved last) still the old one
    assert (recipe / "recipe.yaml").read_bytes() == old_yaml
    moved = [
        n
        for n in ("README.md", "launch.sh", "train.py")
        if (recipe / n).read_bytes() == (reference / n).read_bytes()
    ]
    assert len(moved) == 1, moved
    assert (recipe / ".recipegen" / "pending").is_dir()

    if command == "update":
        rerun = cli("update", recipe, "--templates", tpl)
        assert rerun.exit_code == 0, rerun.output
        assert "finished an interrupted write" in rerun.output
    else:  # `new` without --force must not call the already-moved file "edited"
        rerun = _run_worker("new", recipe, tpl, "KILL", 99)
        assert rerun.returncode == 0, rerun.stderr
    assert snapshot(recipe) == snapshot(reference)
    assert not (recipe / ".recipegen" / "pending").exists()


def test_write_interrupted_before_its_commit_point_is_dropped(setup, monkeypatch):
    recipe, tpl, change_templates = setup
    change_templates()
    state = recipe / ".recipegen"
    stale = state / "pending.tmp-dead"
    stale.mkdir()
    (stale / "launch.sh").write_text("half-staged\n")
    result = cli("update", recipe, "--templates", tpl)
    assert result.exit_code == 0, result.output
    assert not stale.exists()
    assert NEW_LINE in (recipe / "launch.sh").read_text()
