"""The recipe's state folder (`.recipegen/`) and the files of a recipe, as an attacker or an
unlucky user leaves them (issue 21): links, a shipped pending write, special and huge files,
concurrent writers, a file that cannot be replaced. Each is a real file-system setup driven
through the real CLI; the ones that could hang or balloon run in a subprocess under a time and
address-space limit."""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from recipegen.generator.write import lock

from recipegen.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "generator"))
from gen_helpers import require_templates  # noqa: E402

GIB = 2**30
SPARSE = 3 * GIB  # sparse files: no disk used, but a reader that reads them whole dies


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def run_limited(*args, cwd=None, timeout=120, limit=2 * GIB):
    """`recipegen ARGS` in a real process under an address-space limit and a timeout."""

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return subprocess.run(
        [sys.executable, "-c", "from recipegen.cli import main; main()", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=cap,
        cwd=cwd,
    )


def snapshot(folder: Path) -> dict:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


@pytest.fixture
def recipe(tmp_path):
    """An esm2 recipe under tmp/out, and a 'victim' folder outside it holding files."""
    require_templates("esm2")
    out = tmp_path / "out"
    assert cli("new", "esm2", "--out", out).exit_code == 0
    victim = tmp_path / "victim"
    victim.mkdir()
    for i in range(3):
        (victim / f"precious{i}.txt").write_text(f"keep me {i}\n")
    return out / "esm2_sae", victim


def _no_traceback(result):
    assert "Traceback" not in result.output and "Errno" not in result.output, result.output


LINKS = {
    "renders-relative": (".recipegen/renders", lambda victim, r: os.path.relpath(victim, r.parent)),
    "renders-absolute": (".recipegen/renders", lambda victim, r: str(victim)),
    "state-relative": (".recipegen", lambda victim, r: os.path.relpath(victim, r.parent)),
    "state-absolute": (".recipegen", lambda victim, r: str(victim)),
}


@pytest.mark.parametrize("case", sorted(LINKS))
def test_a_linked_state_folder_is_never_followed_and_check_reports_it(recipe, case):
    directory, victim = recipe
    rel, target = LINKS[case]
    link = directory / rel
    shutil.rmtree(link)
    link.symlink_to(target(victim, link))
    before = snapshot(victim)
    names = sorted(os.listdir(victim))

    checked = cli("check", directory)
    assert checked.exit_code == 1, checked.output
    assert "is a symbolic link" in checked.output and rel.split("/")[-1] in checked.output

    for args in (
        ("new", "esm2", "--out", directory.parent, "--set", "sae.top_k=16"),
        ("new", "esm2", "--out", directory.parent, "--set", "sae.top_k=16", "--force"),
        ("update", directory, "--set", "sae.top_k=16"),
        ("update", directory, "--dry-run", "--set", "sae.top_k=16"),
        ("diff", directory),
    ):
        result = cli(*args)
        assert result.exit_code == 2, (args, result.output)
        assert "symbolic link" in result.output, (args, result.output)
        _no_traceback(result)
    assert snapshot(victim) == before and sorted(os.listdir(victim)) == names
    assert "top_k: 16" not in (directory / "recipe.yaml").read_text()


def test_a_linked_recorded_render_is_not_followed(recipe):
    directory, victim = recipe
    renders = directory / ".recipegen" / "renders"
    entry = sorted(renders.iterdir())[0]
    entry.unlink()
    entry.symlink_to(victim / "precious0.txt")
    checked = cli("check", directory)
    assert checked.exit_code == 1 and "symbolic link" in checked.output
    result = cli("new", "esm2", "--out", directory.parent, "--set", "sae.top_k=16")
    assert result.exit_code == 0, result.output
    assert (victim / "precious0.txt").read_text() == "keep me 0\n"
    assert (
        cli("check", directory).exit_code == 0
    )  # the link was replaced by a real entry, or pruned


def _ship_pending(directory: Path, text: str, *, identity=None, sha=None) -> None:
    pending = directory / ".recipegen" / "pending"
    pending.mkdir()
    (pending / "launch.sh").write_text(text)
    journal = {
        "write": ["launch.sh"],
        "delete": [],
        "sha256": {"launch.sh": sha or hashlib.sha256(text.encode()).hexdigest()},
    }
    if identity is not None:
        journal["recipe_dir"] = identity
    (pending / "journal.json").write_text(json.dumps(journal))


def _identity(directory: Path) -> list[int]:
    st = os.stat(directory)
    return [st.st_dev, st.st_ino]


EVIL = "#!/bin/bash\ntouch pwned\n"
SHIPPED = {
    # a staged write that came with a clone: a journal with matching hashes, for another folder
    "shipped-with-clone": dict(identity=[1, 2]),
    "shipped-old-format": dict(identity=None),
    # for this folder, but the staged file does not match the journal
    "tampered-staged-file": dict(identity="self", sha="0" * 64),
}


@pytest.mark.parametrize("case", sorted(SHIPPED))
def test_an_untrusted_pending_write_is_a_check_finding_and_update_refuses_it(recipe, case):
    directory, _ = recipe
    kwargs = dict(SHIPPED[case])
    if kwargs.get("identity") == "self":
        kwargs["identity"] = _identity(directory)
    _ship_pending(directory, EVIL, **kwargs)
    launch = (directory / "launch.sh").read_bytes()

    checked = cli("check", directory)
    assert checked.exit_code == 1, checked.output
    assert "pending write that recipegen cannot trust" in checked.output
    for args in (("diff", directory), ("update", directory), ("update", directory, "--dry-run")):
        result = cli(*args)
        assert result.exit_code == 2, (args, result.output)
        assert "cannot trust" in result.output
        _no_traceback(result)
    result = cli("new", "esm2", "--out", directory.parent, "--force")
    assert result.exit_code == 2 and "cannot trust" in result.output
    assert (directory / "launch.sh").read_bytes() == launch
    assert "rm -r" in result.output  # the fix names the folder to remove
    shutil.rmtree(directory / ".recipegen" / "pending")
    assert cli("check", directory).exit_code == 0


def test_unexpected_entries_in_pending_and_state_folder_are_findings(recipe):
    directory, victim = recipe
    text = "#!/bin/bash\necho staged\n"
    _ship_pending(directory, text, identity=_identity(directory))
    (directory / ".recipegen" / "pending" / "torch.py").write_text("x = 1\n")
    (directory / ".recipegen" / "notes").write_text("mine\n")
    checked = cli("check", directory)
    assert checked.exit_code == 1
    assert "unexpected entry 'torch.py'" in checked.output
    assert "notes: not something recipegen keeps" in checked.output
    assert cli("update", directory).exit_code == 2
    (directory / ".recipegen" / "pending").rename(directory / ".recipegen" / "x")
    (directory / ".recipegen" / "pending").symlink_to(victim)
    result = cli("update", directory)
    assert result.exit_code == 2 and "a symbolic link, not a folder" in result.output


def test_a_trusted_pending_write_is_reported_by_check_and_finished_by_update(recipe):
    directory, _ = recipe
    text = (directory / "launch.sh").read_text().replace("SMOKE=0\n", "SMOKE=0 # staged\n")
    _ship_pending(directory, text, identity=_identity(directory))
    checked = cli("check", directory)
    assert checked.exit_code == 1 and "an interrupted write is pending" in checked.output
    assert "recipegen update" in checked.output
    result = cli("update", directory)
    assert result.exit_code == 0, result.output
    assert "finished an interrupted write" in result.output
    assert "SMOKE=0 # staged" in (directory / "launch.sh").read_text()


def test_a_tampered_recorded_render_is_a_finding_and_never_used_as_a_base(recipe):
    directory, _ = recipe
    renders = directory / ".recipegen" / "renders"
    record = yaml.safe_load((directory / "recipe.yaml").read_text())
    entry = renders / f"{record['files']['launch.sh']}.txt"
    entry.write_text("#!/bin/bash\ntouch pwned\n")
    checked = cli("check", directory)
    assert checked.exit_code == 1 and "does not match its name" in checked.output
    # diff refuses an untrusted state folder instead of diffing against a forged base
    result = cli("diff", directory)
    assert result.exit_code == 2 and "does not match its name" in result.output


# ------------------------------------------------ the one reading rule, for every command


def _sparse(path: Path, size: int = SPARSE) -> None:
    path.unlink(missing_ok=True)
    with open(path, "wb") as fh:
        fh.truncate(size)


def test_a_3gb_readme_is_refused_by_every_command_without_reading_it(recipe):
    directory, _ = recipe
    _sparse(directory / "README.md")
    out = directory.parent
    for args, code, words in (
        (("check", directory), 1, "larger than"),
        (("diff", directory), 2, "larger than"),
        (("update", directory), 2, "larger than"),
        (("update", directory, "--dry-run"), 2, "larger than"),
        (("new", "esm2", "--out", out), 2, "README.md (is larger than"),
        (("new", "esm2", "--out", out, "--dry-run"), 0, "README.md (is larger than"),
    ):
        proc = run_limited(*args)
        assert proc.returncode == code, (args, proc.stdout, proc.stderr)
        assert words in proc.stdout + proc.stderr, (args, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr and "MemoryError" not in proc.stderr
    # --force replaces it and keeps it (a hard link: nothing copied)
    proc = run_limited("new", "esm2", "--out", out, "--force")
    assert proc.returncode == 0, proc.stderr
    backups = list(out.glob(".esm2_sae.backup-*"))
    assert len(backups) == 1 and (backups[0] / "README.md").stat().st_size == SPARSE
    assert run_limited("check", directory).returncode == 0


def test_a_3gb_recorded_render_is_a_finding_and_never_read(recipe):
    directory, _ = recipe
    record = yaml.safe_load((directory / "recipe.yaml").read_text())
    _sparse(directory / ".recipegen" / "renders" / f"{record['files']['README.md']}.txt")
    proc = run_limited("check", directory)
    assert proc.returncode == 1 and "larger than" in proc.stdout, proc.stderr
    for args in (("diff", directory), ("update", directory, "--dry-run")):
        proc = run_limited(*args)
        assert proc.returncode == (2 if args[0] == "diff" else 0), (args, proc.stderr)
        assert "Traceback" not in proc.stderr
    proc = run_limited("new", "esm2", "--out", directory.parent, "--set", "sae.top_k=16")
    assert proc.returncode == 0, proc.stderr
    assert run_limited("check", directory).returncode == 0  # the oversized entry was replaced


@pytest.mark.parametrize("kind", ["dev-zero-link", "fifo", "outside-link"])
def test_a_special_or_linked_recipe_file_is_never_read_or_called_edited(recipe, kind):
    directory, victim = recipe
    target = directory / "train.py"
    target.unlink()
    if kind == "dev-zero-link":
        target.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(target)
    else:
        target.symlink_to(victim / "precious1.txt")
    out = directory.parent
    proc = run_limited("new", "esm2", "--out", out, timeout=60)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    text = proc.stdout + proc.stderr
    assert "train.py: is a " in text and "edited" not in text and "up to date" not in text
    proc = run_limited("new", "esm2", "--out", out, "--dry-run", timeout=60)
    assert proc.returncode == 0 and "blocked   train.py" in proc.stdout, proc.stderr
    assert "in the way of train.py" in proc.stdout and "cannot write" not in proc.stdout
    for args in (("check", directory), ("diff", directory), ("update", directory)):
        proc = run_limited(*args, timeout=60)
        assert proc.returncode in (1, 2) and "Traceback" not in proc.stderr, (args, proc.stderr)
    proc = run_limited("new", "esm2", "--out", out, "--force", timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert target.is_file() and not target.is_symlink()
    assert (victim / "precious1.txt").read_text() == "keep me 1\n"
    assert run_limited("check", directory).returncode == 0


def test_new_dry_run_names_a_folder_where_a_file_belongs(recipe):
    directory, _ = recipe
    (directory / "train.py").unlink()
    (directory / "train.py").mkdir()
    (directory / "train.py" / "mine").write_text("x\n")
    result = cli("new", "esm2", "--out", directory.parent, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "blocked   train.py" in result.output and "is a directory" in result.output
    assert "cannot write" not in result.output
    for extra in ((), ("--force",)):
        result = cli("new", "esm2", "--out", directory.parent, *extra)
        assert result.exit_code == 2 and "train.py: is a directory" in result.output
        assert "a folder is never replaced" in result.output
    assert (directory / "train.py" / "mine").read_text() == "x\n"


# ------------------------------------------------ .gitignore (case 5)


def test_new_into_a_pre_created_empty_folder_and_force_after_deleting_gitignore(tmp_path):
    require_templates("esm2")
    out = tmp_path / "o"
    (out / "esm2_sae").mkdir(parents=True)
    result = cli("new", "esm2", "--out", out)
    assert result.exit_code == 0, result.output
    assert cli("check", out / "esm2_sae").exit_code == 0
    (out / "esm2_sae" / ".gitignore").unlink()
    result = cli("new", "esm2", "--out", out, "--force")
    assert result.exit_code == 0, result.output
    assert (out / "esm2_sae" / ".gitignore").is_file()
    assert not (out / "esm2_sae" / ".recipegen" / "pending").exists()
    assert cli("check", out / "esm2_sae").exit_code == 0


# ------------------------------------------------ the lock


HOLDER = """
import sys
from pathlib import Path
from recipegen.generator.write import lock
with lock(Path(sys.argv[1]), "update"):
    print("locked", flush=True)
    sys.stdin.read()
"""


@pytest.mark.parametrize("command", ["update", "new"])
def test_a_second_writer_fails_at_once_naming_the_holder(recipe, command):
    directory, _ = recipe
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(directory)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        args = (
            ("update", directory, "--set", "sae.top_k=16")
            if command == "update"
            else ("new", "esm2", "--out", directory.parent, "--set", "sae.top_k=16")
        )
        result = cli(*args)
        assert result.exit_code == 2, result.output
        assert "being written by another recipegen" in result.output
        assert f"pid {holder.pid}" in result.output and "`recipegen update`" in result.output
        assert "top_k: 16" not in (directory / "recipe.yaml").read_text()
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert not (directory / ".recipegen" / "lock").exists()  # released and removed
    assert cli(*args).exit_code == 0


def test_the_lock_is_exclusive_within_one_process_too(recipe):
    directory, _ = recipe
    with lock(directory, "update"):
        result = cli("update", directory)
        assert result.exit_code == 2 and "being written by another" in result.output


def test_concurrent_updates_never_mix(recipe):
    directory, _ = recipe
    outcomes = []
    for round_ in range(4):
        top_k = 16 + round_
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "from recipegen.cli import main; main()",
                    "update",
                    str(directory),
                    "--set",
                    f"sae.top_k={top_k}",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        for p in procs:
            out, err = p.communicate(timeout=120)
            outcomes.append(p.returncode)
            assert p.returncode in (0, 2), (out, err)
            assert "Errno" not in err and "Traceback" not in err and "pending.tmp" not in err
            if p.returncode == 2:
                assert "being written by another recipegen" in err, err
        for f in directory.iterdir():
            if f.is_file():
                assert "<<<<<<<" not in f.read_text(errors="replace"), f
        assert f"top_k: {top_k}" in (directory / "recipe.yaml").read_text()
        assert cli("check", directory).exit_code == 0
    assert 0 in outcomes


# ------------------------------------------------ a file that cannot be replaced


def _make_immutable(path: Path) -> bool:
    if shutil.which("chattr") is None or os.geteuid() != 0:
        return False
    return subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0


@pytest.mark.parametrize("how", ["immutable", "injected"])
def test_update_that_cannot_replace_a_file_says_what_it_wrote_and_finishes_later(
    recipe, monkeypatch, how
):
    directory, _ = recipe
    stuck = directory / "train.py"
    result = None
    if how == "immutable":
        if not _make_immutable(stuck):
            pytest.skip("chattr +i needs root and a file system that supports it")
        try:
            result = cli("update", directory, "--set", "sae.top_k=16")
        finally:
            subprocess.run(["chattr", "-i", str(stuck)], check=True)
    else:
        real = os.replace

        def failing(src, dst, *a, **k):
            if Path(dst) == stuck:
                raise PermissionError(1, "Operation not permitted", str(dst))
            return real(src, dst, *a, **k)

        monkeypatch.setattr(os, "replace", failing)
        result = cli("update", directory, "--set", "sae.top_k=16")
        monkeypatch.setattr(os, "replace", real)
    assert result.exit_code == 2, result.output
    out = result.output
    assert "update not finished" in out and "could not write train.py" in out
    assert "written: " in out and "nothing written" not in out
    written = out.split("written: ")[1].split(";")[0].split(", ")
    assert "launch.sh" in written and "recipe.yaml" not in written
    assert "still pending: train.py" in out and "recipe.yaml" in out.split("still pending:")[1]
    checked = cli("check", directory)
    assert checked.exit_code == 1 and "an interrupted write is pending" in checked.output
    rerun = cli("update", directory)
    assert rerun.exit_code == 0, rerun.output
    assert "finished an interrupted write" in rerun.output
    assert "top_k: 16" in (directory / "recipe.yaml").read_text()
    assert cli("check", directory).exit_code == 0


# ------------------------------------------------ --set repeated, --out escaped, show


def test_repeating_update_set_records_the_override_once_and_says_up_to_date(recipe):
    directory, _ = recipe
    first = cli("update", directory, "--set", "sae.top_k=16")
    assert first.exit_code == 0 and first.output.rstrip().endswith(": updated"), first.output
    for _ in range(2):
        again = cli("update", directory, "--set", "sae.top_k=16")
        assert again.exit_code == 0 and "up to date" in again.output, again.output
    changed = cli("update", directory, "--set", "sae.top_k=24")
    assert changed.exit_code == 0 and "updated" in changed.output
    record = yaml.safe_load((directory / "recipe.yaml").read_text())
    assert record["overrides"] == ["sae.top_k=24"]
    assert cli("check", directory).exit_code == 0


@pytest.mark.parametrize("char", ["\u202e", "\n", "\x1b"])
def test_out_with_control_or_bidi_characters_is_echoed_escaped(tmp_path, char):
    require_templates("esm2")
    out = tmp_path / f"a{char}b"
    escaped = repr(char)[1:-1]
    for args in (("new", "esm2", "--out", out), ("new", "esm2", "--out", out, "--dry-run")):
        result = cli(*args)
        assert result.exit_code == 0, result.output
        assert f"a{char}b" not in result.output and f"a{escaped}b" in result.output
        assert char == "\n" or char not in result.output
    for args in (("check", out / "esm2_sae"), ("update", out / "esm2_sae")):
        result = cli(*args)
        assert result.exit_code == 0 and f"a{char}b" not in result.output, result.output


def test_show_as_spec_prints_a_spec_new_accepts(tmp_path):
    require_templates("esm2")
    shown = cli("show", "esm2", "--as-spec")
    assert shown.exit_code == 0, shown.output
    spec = tmp_path / "mine.yaml"
    spec.write_text(shown.output.replace("name: esm2", "name: mine"))
    made = cli("new", "--spec", spec, "--out", tmp_path / "r")
    assert made.exit_code == 0, made.output
    assert (tmp_path / "r" / "mine_sae" / "launch.sh").is_file()
    # the default (resolved) view says it is not a spec file and how to get one
    resolved = cli("show", "esm2")
    assert "--as-spec" in resolved.output.splitlines()[0]
    spec.write_text(resolved.output)
    refused = cli("new", "--spec", spec, "--out", tmp_path / "r2")
    assert refused.exit_code == 2 and "Traceback" not in refused.output


@pytest.mark.parametrize("where", [".recipegen", ".recipegen/renders", ".recipegen/pending"])
def test_a_file_in_place_of_a_state_folder_is_a_named_error_never_a_traceback(recipe, where):
    directory, _ = recipe
    path = directory / where
    if path.is_dir():
        shutil.rmtree(path)
    path.write_text("not a folder\n")
    checked = cli("check", directory)
    assert checked.exit_code == 1 and "not a folder" in checked.output, checked.output
    for args in (
        ("new", "esm2", "--out", directory.parent, "--set", "sae.top_k=16"),
        ("update", directory, "--set", "sae.top_k=16"),
        ("diff", directory),
    ):
        result = cli(*args)
        assert result.exit_code == 2, (args, result.output)
        assert "not a folder" in result.output, (args, result.output)
        _no_traceback(result)
