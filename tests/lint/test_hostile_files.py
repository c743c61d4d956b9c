"""Issue 13 (round 2) for `lint`: special files, symlinks, the size cap, directives only in real
comments, SARIF URIs. Cases that would hang or exhaust memory before the fix run the real CLI in
a subprocess with a memory limit and a timeout, so a regression fails instead of taking the test
run down with it."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from recipegen.validators.engine import lint_sources

from recipegen.cli import main

BAD_LOAD = "import torch\nx = torch.load('a.pt')\n"
SHELL_BAD = "python train.py --cache-dir c --lr-schedule cosine --max-steps 20000\n"  # SAE201


def lint_cli(args: list[str], cwd: Path, limit_bytes: int = 1 << 30, timeout: float = 60):
    """`recipegen lint ARGS` in a child with an address-space limit; (exit code, output)."""

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))

    proc = subprocess.run(
        [sys.executable, "-c", "from recipegen.cli import main; main()", "lint", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=cap,
    )
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "r").mkdir()
    return tmp_path


def test_symlink_to_dev_zero_is_not_followed(tree):
    (tree / "r" / "z.py").symlink_to("/dev/zero")
    (tree / "r" / "ok.py").write_text(BAD_LOAD)
    code, out = lint_cli(["r"], tree)
    assert code == 1, out
    assert "r/z.py:1:1: SAE901 not linted: is a symbolic link out of the linted tree" in out
    assert "r/ok.py:2:5: SAE306" in out  # the rest of the tree is still linted
    assert "Traceback" not in out


def test_fifo_in_a_tree_is_skipped_and_named_fifo_is_refused(tree):
    os.mkfifo(tree / "r" / "p.sh")
    os.mkfifo(tree / "r" / "noext")
    code, out = lint_cli(["r"], tree, timeout=30)  # opening a FIFO for reading blocks forever
    assert code == 0 and "All checks passed (0 file(s))" in out, out
    code, out = lint_cli(["r/p.sh"], tree, timeout=30)
    assert code == 1 and "r/p.sh:1:1: SAE901 not linted: is a FIFO, not a regular file" in out


def test_size_cap_applies_before_reading(tree):
    big = tree / "r" / "big.py"
    with open(big, "wb") as fh:  # sparse: 6 GB on paper, nothing on disk
        fh.truncate(6_000_000_000)
    code, out = lint_cli(["r"], tree, limit_bytes=1 << 30)
    assert code == 1, out
    assert "r/big.py:1:1: SAE901 file is larger than 5000000 bytes; not linted" in out


def test_symlink_loop_is_a_finding_not_a_traceback(tree):
    (tree / "r" / "a.py").symlink_to("b.py")
    (tree / "r" / "b.py").symlink_to("a.py")
    for args in (["r"], ["r/a.py"]):
        code, out = lint_cli(args, tree)
        assert code == 1, out
        assert "r/a.py:1:1: SAE901 not linted: is a symbolic link loop" in out
        assert "Traceback" not in out and "RuntimeError" not in out


def test_symlinks_inside_the_tree_are_followed_outside_are_not(tree, tmp_path_factory):
    outside = tmp_path_factory.mktemp("elsewhere") / "secret.py"
    outside.write_text(BAD_LOAD)
    (tree / "r" / "sub").mkdir()
    (tree / "r" / "sub" / "real.py").write_text(BAD_LOAD)
    (tree / "r" / "link.py").symlink_to("sub/real.py")
    (tree / "r" / "out.py").symlink_to(outside)
    (tree / "r" / "dangling.py").symlink_to("missing.py")
    (tree / "r" / "linked_dir").symlink_to(outside.parent, target_is_directory=True)
    code, out = lint_cli(["--output-format", "json", "r"], tree)
    assert code == 1
    got = sorted((f["filename"], f["code"], f["message"]) for f in json.loads(out))
    assert got == [
        ("r/dangling.py", "SAE901", "not linted: is a dangling symbolic link"),
        ("r/link.py", "SAE306", got[1][2]),
        (
            "r/out.py",
            "SAE901",
            "not linted: is a symbolic link out of the linted tree (not followed)",
        ),
        ("r/sub/real.py", "SAE306", got[3][2]),
    ]
    # named explicitly, a symlink out of the tree is read (the user asked for it)
    code, out = lint_cli([str(tree / "r" / "out.py")], tree)
    assert code == 1 and "SAE306" in out


def test_launch_target_symlinked_to_a_device_is_not_read(tree):
    (tree / "r" / "launch.sh").write_text('python "$HERE/train.py" --cache-dir c --bogus\n')
    (tree / "r" / "train.py").symlink_to("/dev/zero")
    code, out = lint_cli(["r"], tree)
    assert code == 1 and "r/train.py:1:1: SAE901 not linted" in out and "Traceback" not in out


def test_unreadable_paths_are_named_errors(tree):
    os.mkfifo(tree / "cfg.toml")
    code, out = lint_cli(["--config", "cfg.toml", "r"], tree, timeout=30)
    assert code == 2 and "error: cfg.toml: is a FIFO, not a regular file" in out
    code, out = lint_cli(["--config", "r", "r"], tree)
    assert code == 2 and "error: r: is a directory, not a regular file" in out


# ---------------------------------------------------------------- directives in real comments

DIRECTIVE_IN_STRINGS = {
    "string": 'MSG = "# recipegen: disable-file=SAE306"\n' + BAD_LOAD,
    "docstring": '"""Silence with `# recipegen: disable-file=SAE306`."""\n' + BAD_LOAD,
    "multiline-string": 'DOC = """\nx  # noqa: SAE306\n"""\n' + BAD_LOAD,
    "noqa-in-string": "import torch\nx = torch.load('# noqa: SAE306')\n",
    "fstring": 'import torch\nx = torch.load(f"a{1}  # noqa")\n',
}


@pytest.mark.parametrize("source", DIRECTIVE_IN_STRINGS.values(), ids=DIRECTIVE_IN_STRINGS)
def test_python_directive_inside_a_string_is_ignored(source):
    assert [f.code for f in lint_sources({"train.py": source})] == ["SAE306"]


DIRECTIVE_IN_COMMENTS = {
    "disable-file": "# recipegen: disable-file=SAE306\n" + BAD_LOAD,
    "disable-file-upper": "# RECIPEGEN: DISABLE-FILE=sae306\n" + BAD_LOAD,
    "noqa": "import torch\nx = torch.load('a.pt')  # noqa: SAE306\n",
    "noqa-upper": "import torch\nx = torch.load('a.pt')  # NOQA: SAE306\n",
    "noqa-bare-upper": "import torch\nx = torch.load('a.pt')  # NOQA\n",
    "disable-line": "import torch\nx = torch.load('a.pt')  # recipegen: disable=SAE306\n",
    "string-then-comment": "import torch\nx = torch.load('# noqa: X1')  # noqa: SAE306\n",
    "after-another-comment": "import torch\nx = torch.load('a.pt')  # type: ignore # noqa: SAE306\n",
}


@pytest.mark.parametrize("source", DIRECTIVE_IN_COMMENTS.values(), ids=DIRECTIVE_IN_COMMENTS)
def test_python_directive_in_a_real_comment_works(source):
    assert lint_sources({"train.py": source}) == []


def test_upper_case_noqa_is_checked_for_use_like_lower_case():
    (f,) = lint_sources({"train.py": "x = 1  # NOQA: SAE306\n"})
    assert (f.code, f.line, f.col) == ("SAE902", 1, 8)


SHELL_IN_STRINGS = {
    "double-quoted": 'echo "# recipegen: disable-file=SAE201"\n' + SHELL_BAD,
    "single-quoted": "echo '# recipegen: disable-file=SAE201'\n" + SHELL_BAD,
    "heredoc": "cat <<EOF\n# recipegen: disable-file=SAE201\nEOF\n" + SHELL_BAD,
    "word": "echo a#recipegen:disable-file=SAE201\n" + SHELL_BAD,
    "same-line-string": SHELL_BAD.rstrip("\n") + ' "# recipegen: disable=SAE201"\n',
}


@pytest.mark.parametrize("source", SHELL_IN_STRINGS.values(), ids=SHELL_IN_STRINGS)
def test_shell_directive_inside_quotes_or_heredoc_is_ignored(source):
    assert "SAE201" in [f.code for f in lint_sources({"launch.sh": source})]


@pytest.mark.parametrize(
    "source",
    [
        "# recipegen: disable-file=SAE201\n" + SHELL_BAD,
        SHELL_BAD.rstrip("\n") + "  # recipegen: disable=SAE201\n",
        SHELL_BAD.rstrip("\n") + ' "#x"  # Recipegen: Disable=SAE201\n',
    ],
    ids=["file", "line", "after-a-quoted-hash"],
)
def test_shell_directive_in_a_real_comment_works(source):
    assert "SAE201" not in [f.code for f in lint_sources({"launch.sh": source})]


# ---------------------------------------------------------------- SARIF URIs


@pytest.mark.parametrize(
    "name,uri",
    [
        ("a #b.py", "a%20%23b.py"),
        ("q?x.py", "q%3Fx.py"),
        ("100%.py", "100%25.py"),
        ("caf\u00e9.py", "caf%C3%A9.py"),
        ("c:d.py", "c%3Ad.py"),
    ],
)
def test_sarif_uri_is_percent_encoded(tmp_path, name, uri):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "d d").mkdir()
    (tmp_path / "d d" / name).write_text(BAD_LOAD)
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        res = CliRunner().invoke(main, ["lint", "--output-format", "sarif", "d d"])
    finally:
        os.chdir(old)
    assert res.exit_code == 1, res.output
    (result,) = json.loads(res.output)["runs"][0]["results"]
    location = result["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location["uri"] == f"d%20d/{uri}"


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "github"])
def test_hostile_file_names_never_reach_the_terminal_raw(tree, fmt):
    name = os.fsencode(tree / "r") + b"/\xff\x1b]0;x\x07\x1b[31m.py"
    with open(name, "w") as fh:
        fh.write(BAD_LOAD)
    code, out = lint_cli(["--output-format", fmt, "r"], tree)
    assert code == 1, out
    assert "Traceback" not in out
    assert "\x1b" not in out and "\x07" not in out
    if fmt in ("text", "github"):
        assert "r/\\udcff\\x1b]0;x\\x07\\x1b[31m.py" in out
    if fmt == "sarif":
        assert '"uri": "r/%FF%1B%5D0%3Bx%07%1B%5B31m.py"' in out


def test_a_big_file_under_a_memory_cap_is_reported_as_out_of_memory_not_as_nesting(tmp_path):
    """Issue 21: a 4.7 MB .py (under the 5 MB cap) parsed under a memory limit used to be called
    "nesting too deep"; it is an out-of-memory finding that names the file's size."""
    body = "".join(f"v{i} = [{i}, {i + 1}, {i + 2}, 'x' * {i % 7}]\n" for i in range(120_000))
    assert 4_000_000 < len(body) < 5_000_000
    (tmp_path / "big.py").write_text(body)
    code, out = lint_cli(["big.py"], tmp_path, limit_bytes=700 << 20, timeout=120)
    assert code == 1, out
    assert "SAE901" in out and "out of memory parsing this file" in out, out
    assert "nesting too deep" not in out and "Traceback" not in out, out
