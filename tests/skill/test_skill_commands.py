"""Every command the skill shows runs: its fenced ```bash/```sh blocks are executed, in page order
(SKILL.md, then references by name), in one temporary working directory.

Conventions (SKILL.md's workflow intro tells the reader that angle brackets are theirs to fill):
- `<name>` placeholders are filled from PLACEHOLDERS (the demo's tiny randomly initialised ESM2,
  its small protein FASTA); an unknown placeholder fails the test.
- `# skill-test: e2e` as a block's first line: heavy (the smoke launch), run only by the e2e test.
- `# skill-test: skip (reason)`: never run, only syntax-checked; kept to the few commands that
  cannot run here (a multi-GPU full launch on the real checkpoint). At most MAX_SKIPPED.
The generated rules.md is not run: its blocks are rule examples, several deliberately wrong.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from importlib import resources
from pathlib import Path

import click
import pytest
import yaml
from skill_pages import (
    SHELL_LANGS,
    SHELLISH_LANGS,
    Block,
    code_blocks,
    hand_written_pages,
)

from recipegen import demo
from recipegen.cli import main

MAX_SKIPPED = 2
PLACEHOLDER_RE = re.compile(r"<([a-z][a-z0-9_.-]*)>")
PLACEHOLDERS = {"hf-model-dir": "tiny_esm2", "sequences.fasta": "sequences.fasta"}
INLINE_RE = re.compile(r"`(recipegen [^`]+)`")


def _all_blocks() -> list[Block]:
    """Blocks of the hand-written pages; rules.md holds rule examples (some deliberately broken)."""
    return [block for page in hand_written_pages() for block in code_blocks(page)]


def _shell_blocks() -> list[Block]:
    return [block for block in _all_blocks() if block.lang in SHELL_LANGS]


def _fill(block: Block, assets: Path) -> str:
    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name not in PLACEHOLDERS:
            raise AssertionError(f"{block.where()}: unknown placeholder <{name}>")
        return str(assets / PLACEHOLDERS[name])

    return PLACEHOLDER_RE.sub(replace, block.code)


@pytest.fixture(scope="module")
def assets(tmp_path_factory) -> Path:
    """What the placeholders point at: `recipegen demo`'s tiny randomly initialised ESM2 (6 layers,
    built from a config, nothing downloaded) and the protein FASTA shipped in the package."""
    root = tmp_path_factory.mktemp("skill_assets")
    recipe = demo.render_recipe(root / "rendered", "esm2")  # its standin.py writes the model
    subprocess.run(
        [sys.executable, str(recipe / "standin.py"), "--out", str(root / "st")], check=True
    )
    (root / "st" / "model").rename(root / PLACEHOLDERS["hf-model-dir"])
    fasta = resources.files("recipegen").joinpath("data", demo.DEMO_FASTA).read_text()
    (root / PLACEHOLDERS["sequences.fasta"]).write_text(fasta)
    return root


def _env() -> dict[str, str]:
    """A hermetic environment: launch.sh reads generic names (INPUT, WORK, LR, SEED, ...), so
    nothing but the basics is inherited from the caller."""
    keep = ("PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "USER", "VIRTUAL_ENV", "PYTHONPATH",
            "HF_HOME", "XDG_CACHE_HOME")  # fmt: skip
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", WANDB_MODE="disabled",
               OMP_NUM_THREADS="2", CUDA_VISIBLE_DEVICES="", PYTHONUNBUFFERED="1")  # fmt: skip
    return env


def _run_blocks(workdir: Path, assets: Path, include_e2e: bool) -> list[Block]:
    ran = []
    for block in _shell_blocks():
        kind = block.marker[0] if block.marker else None
        if kind == "skip" or (kind == "e2e" and not include_e2e):
            continue
        proc = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", _fill(block, assets)],
            cwd=workdir, env=_env(), capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        assert proc.returncode == 0, (
            f"{block.where()} exited {proc.returncode}\n--- block\n{block.code}"
            f"--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}"
        )
        ran.append(block)
    return ran


def test_block_markers_are_known_and_skips_are_few_and_justified():
    skipped = []
    for block in _shell_blocks():
        if block.marker is None:
            continue
        kind, reason = block.marker
        assert kind in {"skip", "e2e"}, f"{block.where()}: unknown skill-test marker {kind!r}"
        if kind == "skip":
            assert reason.strip(), f"{block.where()}: say why it cannot run: skip (reason)"
            skipped.append(block)
    assert len(skipped) <= MAX_SKIPPED, [b.where() for b in skipped]


def test_no_shell_commands_hide_in_other_fences():
    for block in _all_blocks():
        assert block.lang not in SHELLISH_LANGS, f"{block.where()}: tag shell blocks as bash"
        if block.lang not in SHELL_LANGS:
            assert not re.search(r"^\s*(recipegen|bash|torchrun) ", block.code, re.M), (
                f"{block.where()}: a command in a ```{block.lang} block would never be run"
            )


def test_every_shell_block_parses():
    for block in _shell_blocks():
        proc = subprocess.run(["bash", "-n", "-c", _fill(block, Path("/assets"))], capture_output=True,
                              text=True)  # fmt: skip
        assert proc.returncode == 0, f"{block.where()}: {proc.stderr}"


def test_python_and_yaml_blocks_are_valid():
    for block in _all_blocks():
        if block.lang == "python":
            compile(block.code, block.where(), "exec")
        elif block.lang in {"yaml", "yml"}:
            assert yaml.safe_load(block.code) is not None, block.where()


def _recipegen_invocations() -> list[tuple[str, list[str]]]:
    """(where, argv after `recipegen`) for every command line and inline span naming recipegen."""
    found = []
    for page in hand_written_pages():
        text = page.read_text(encoding="utf-8")
        for span in INLINE_RE.findall(text):
            found.append((page.name, shlex.split(span.replace("...", ""))[1:]))
        for block in code_blocks(page):
            if block.lang in SHELL_LANGS:
                for line in block.code.splitlines():
                    words = shlex.split(line, comments=True) if line.strip() else []
                    while words and "=" in words[0] and not words[0].startswith("-"):
                        words = words[1:]
                    if words[:1] == ["recipegen"]:
                        found.append((block.where(), words[1:]))
    return found


def test_recipegen_commands_and_options_named_by_the_skill_exist():
    checked = 0
    for where, argv in _recipegen_invocations():
        command: click.Command = main
        args = list(argv)
        while isinstance(command, click.Group) and args and not args[0].startswith("-"):
            name = args.pop(0)
            sub = command.get_command(click.Context(command), name)
            assert sub is not None, f"{where}: `recipegen ... {name}` is not a command"
            command = sub
        options = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
        options |= {"--help", "-h"}
        for arg in args:
            if arg.startswith("--"):
                flag = arg.split("=", 1)[0]
                assert flag in options, f"{where}: `{command.name}` has no option {flag}"
        checked += 1
    assert checked >= 10


def test_skill_commands_run(tmp_path, assets):
    """All blocks but the e2e ones: list/show/new/check/lint/rules, specs, opt-in flags."""
    ran = _run_blocks(tmp_path, assets, include_e2e=False)
    assert any("recipegen new" in block.code for block in ran)
    assert (tmp_path / "recipes" / "esm2_sae" / "recipe.yaml").is_file()


def _launch_invocations() -> list[tuple[Block, list[str], str]]:
    """(block, env var names set, launch.sh path) for each `VAR=... bash .../launch.sh` line."""
    found = []
    for block in _shell_blocks():
        for line in block.code.splitlines():
            words = shlex.split(line, comments=True) if line.strip() else []
            names = []
            while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
                names.append(words.pop(0).split("=", 1)[0])
            if words[:1] == ["bash"] and len(words) > 1 and words[1].endswith("launch.sh"):
                found.append((block, names, words[1]))
    return found


def test_launch_knobs_the_skill_sets_exist(tmp_path):
    """Every env var a shown launch (the skipped full launch too) sets is one launch.sh reads."""
    invocations = _launch_invocations()
    assert invocations, "the skill shows no launch.sh command"
    subprocess.run(["recipegen", "new", "esm2", "--out", "recipes"], cwd=tmp_path, env=_env(),
                   check=True, capture_output=True)  # fmt: skip
    for block, names, script in invocations:
        assert (tmp_path / script).is_file(), f"{block.where()}: {script} is not a rendered file"
        usage = subprocess.run(["bash", script, "--help"], cwd=tmp_path, env=_env(),
                               capture_output=True, text=True, check=True).stdout  # fmt: skip
        for name in names:
            assert re.search(rf"\b{name}\b", usage), f"{block.where()}: launch.sh has no {name}"


@pytest.mark.e2e
def test_skill_commands_run_end_to_end(tmp_path, assets):
    """Every runnable block, the smoke launch included; then the outputs SKILL.md promises."""
    ran = _run_blocks(tmp_path, assets, include_e2e=True)
    assert any(block.marker and block.marker[0] == "e2e" for block in ran)
    work = tmp_path / "smoke_work"
    for name in ("metadata.json", "checkpoint_final.pt", "report.json"):
        assert list(work.rglob(name)), f"smoke launch wrote no {name} under {work}"
