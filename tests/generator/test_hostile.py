"""Hostile spec values and CLI arguments (issue 7 part 2): each refused with a named error, or
rendered inert -- proven by executing the rendered launch.sh in a sandbox whose `torchrun` and
`python` are stand-ins that record their argv."""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from gen_helpers import MINIMAL_SPEC, require_templates

from recipegen.cli import main

PWN = "touch pwned"


def run_cli(*args: str):
    return CliRunner().invoke(main, list(args))


def yaml_value(value: str) -> str:
    """A --set value that YAML reads back as exactly `value` (JSON strings are YAML)."""
    return json.dumps(value, ensure_ascii=False)


# (id, CLI args after `new`, substring the error must contain). Each must exit 2 with a named
# error and write nothing.
REFUSED = [
    ("model-traversal", ["../../etc/passwd"], "unknown model '../../etc/passwd'"),
    ("model-subst", [f"$({PWN})"], "known models: codonfm, esm2, evo2"),
    ("size-semicolon", ["esm2", "--size", f"8M; {PWN}"], "is not a size of esm2"),
    ("size-traversal", ["esm2", "--size", "../8M"], "is not a size of esm2"),
    ("layer-negative", ["esm2", "--layer", "-1"], "--layer -1 is out of range"),
    ("layer-huge", ["esm2", "--layer", str(10**12)], "is out of range for esm2 8M"),
    ("top-k-negative", ["esm2", "--set", "sae.top_k=-5"], "sae.top_k: -5 is out of range"),
    ("top-k-huge", ["esm2", "--set", f"sae.top_k={10**30}"], "sae.top_k: 10000000000"),
    ("lr-nan", ["esm2", "--set", "sae.lr=.nan"], "sae.lr: nan is not a finite number"),
    ("lr-inf", ["esm2", "--set", "sae.lr=.inf"], "sae.lr: inf is not a finite number"),
    ("batch-float", ["esm2", "--set", "sae.batch_size=1e309"], "sae.batch_size: wrong type"),
    ("bool-as-int", ["esm2", "--set", "sae.mix_shards=true"], "sae.mix_shards: wrong type"),
    (
        "python-tag-set",
        ["esm2", "--set", f"description=!!python/object/apply:os.system ['{PWN}']"],
        "YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed",
    ),
    (
        "checkpoint-newline",
        ["esm2", "--set", "extraction.checkpoint=" + yaml_value(f"x\n{PWN}")],
        "extraction.checkpoint: contains a control character",
    ),
    (
        "description-newline",
        ["esm2", "--set", "description=" + yaml_value("ok\nEOF\n" + PWN)],
        "description: contains a control character",
    ),
    (
        "checkpoint-format",
        ["esm2", "--set", "extraction.checkpoint=x{size.__class__}"],
        "placeholder",
    ),
    ("checkpoint-brace-expansion", ["esm2", "--set", "extraction.checkpoint=${HOME}"], "{HOME}"),
    (
        "checkpoint-empty",
        ["esm2", "--set", "extraction.checkpoint=''"],
        "extraction.checkpoint: is empty",
    ),
    (
        "adapter-injection",
        ["codonfm", "--set", "extraction.adapter=" + yaml_value(f"os:system; {PWN}")],
        "extraction.adapter: 'os:system; touch pwned' is not a valid value",
    ),
    (
        "predict-module-subst",
        ["evo2", "--set", "extraction.predict_module=" + yaml_value(f"$({PWN})")],
        "extraction.predict_module",
    ),
    (
        "wandb-project-backticks",
        ["esm2", "--set", "launch.wandb_project=" + yaml_value(f"`{PWN}`")],
        "launch.wandb_project",
    ),
    ("set-traversal-key", ["esm2", "--set", "../sae.top_k=1"], "unknown key"),
    ("set-empty", ["esm2", "--set", ""], "expected key=value"),
    ("size-label-traversal", ["esm2", "--set", "sizes.../x.n_layers=3"], "size label '../x'"),
]

# Spec files: (id, text replacing MINIMAL_SPEC's name line or appended, error substring).
REFUSED_SPECS = [
    ("name-traversal", 'name: "../evil"', "name: '../evil' is not a valid value"),
    ("name-slash", 'name: "a/b"', "name: 'a/b' is not a valid value"),
    ("name-semicolon", f'name: "x;{PWN}"', "is not a valid value"),
    ("name-subst", f'name: "$({PWN})"', "is not a valid value"),
    ("name-backtick", f'name: "`{PWN}`"', "is not a valid value"),
    ("name-quote", 'name: "x\'y"', "is not a valid value"),
    ("name-confusable", 'name: "\u0435sm2"', "is not a valid value"),  # Cyrillic e
    ("name-empty", 'name: ""', "name: '' is not a valid value"),
    ("name-absolute", 'name: "/etc/x"', "is not a valid value"),
    ("python-object", f"name: !!python/object/new:os.system ['{PWN}']", "is not allowed"),
]


@pytest.mark.parametrize("case_id,args,message", REFUSED, ids=[c[0] for c in REFUSED])
def test_hostile_cli_input_is_refused_with_a_named_error(
    tmp_path, monkeypatch, case_id, args, message
):
    monkeypatch.chdir(tmp_path)
    result = run_cli("new", *args, "--out", str(tmp_path / "out"))
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists() and not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("case_id,line,message", REFUSED_SPECS, ids=[c[0] for c in REFUSED_SPECS])
def test_hostile_spec_file_is_refused_with_file_and_line(
    tmp_path, monkeypatch, case_id, line, message
):
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "spec.yaml"
    spec.write_text(MINIMAL_SPEC.replace("name: mini", line), encoding="utf-8")
    result = run_cli("new", "--spec", str(spec), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2, result.output
    assert f"{spec}:1: name" in result.output and message in result.output
    assert not (tmp_path / "out").exists() and not (tmp_path / "pwned").exists()


# ---------------------------------------------------------------- inert: executed in a sandbox

STAND_IN = r"""#!/usr/bin/env bash
# Stand-in for {name}: record argv (one file per call, NUL-separated), create the sentinels
# launch.sh checks, exit 0.
n=$(find "$ARGV_DIR" -type f | wc -l)
printf '%s\0' "{name}" "$@" >"$ARGV_DIR/$(printf %03d "$n")"
prev=""
for a in "$@"; do
  case "$prev" in
    --output) mkdir -p -- "$a" && echo '{{}}' >"$a/metadata.json" ;;
    --output-dir) mkdir -p -- "$a" && : >"$a/checkpoint_final.pt" ;;
  esac
  prev="$a"
done
"""

HOSTILE_CHECKPOINTS = [
    ("subst", f"$({PWN})"),
    ("backticks", f"`{PWN}`"),
    ("semicolon", f"org/model; {PWN}"),
    ("and-quotes", f'it\'s "quoted" && {PWN} || {PWN}'),
    ("pipe-redirect", f"x | {PWN} > out"),
    ("traversal", "../../../../etc/passwd"),
    ("absolute", "/abs/path/to/model"),
    ("confusable", "ｆacebook/esm２_t6_8M"),  # fullwidth letters
    ("param-expansion", "$HOME$((1+1))$PATH"),
    ("glob-dash", "-rf *"),
    ("python-quotes", 'x""" + __import__("os").system("touch pwned") + """\\'),
]
LOCAL_PATHS = {"traversal", "absolute"}  # look like local paths; they do not exist in the box


def sandbox(tmp_path: Path) -> tuple[Path, dict]:
    """A bin/ with stand-in torchrun and python, an input file, and a minimal environment."""
    box = tmp_path / "box"
    (box / "bin").mkdir(parents=True)
    (box / "argv").mkdir()
    for name in ("torchrun", "python"):
        stub = box / "bin" / name
        stub.write_text(STAND_IN.replace("{name}", name).replace("{{}}", "{}"))
        stub.chmod(0o755)
    (box / "in.fasta").write_text(">s\nMKT\n")
    env = {
        "PATH": f"{box / 'bin'}:/usr/bin:/bin",
        "HOME": str(box),
        "ARGV_DIR": str(box / "argv"),
        "INPUT": str(box / "in.fasta"),
        "WORK": str(box / "work"),
        "LANG": "C.UTF-8",
    }
    return box, env


def recorded(box: Path) -> list[list[str]]:
    calls = []
    for f in sorted((box / "argv").iterdir()):
        calls.append(f.read_bytes().decode("utf-8").split("\0")[:-1])
    return calls


def script_calls(calls: list[list[str]], script: str) -> list[list[str]]:
    """The recorded calls (torchrun or python) that run the recipe's `script`."""
    return [c for c in calls if any(a.endswith("/" + script) for a in c[1:])]


def flag_value(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def run_launch(recipe: Path, box: Path, env: dict):
    import subprocess

    return subprocess.run(
        ["bash", str(recipe / "launch.sh"), "--smoke"],
        cwd=box,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_no_injection(*roots: Path) -> None:
    for root in roots:
        hits = [p for p in root.rglob("*") if p.name in ("pwned", "out")]
        assert not hits, f"injected command ran: {hits}"


@pytest.mark.parametrize(
    "case_id,value", HOSTILE_CHECKPOINTS, ids=[c[0] for c in HOSTILE_CHECKPOINTS]
)
def test_hostile_checkpoint_reaches_argv_literally_and_runs_nothing(tmp_path, case_id, value):
    require_templates("esm2")
    out = tmp_path / "recipes"
    result = run_cli(
        "new", "esm2", "--out", str(out), "--set", "extraction.checkpoint=" + yaml_value(value)
    )
    assert result.exit_code == 0, result.output
    recipe = out / "esm2_sae"
    box, env = sandbox(tmp_path)
    proc = run_launch(recipe, box, env)
    if case_id in LOCAL_PATHS:  # a missing local path is refused at once, never run or retried
        assert proc.returncode == 2 and value in proc.stderr, proc.stderr
        assert not recorded(box)
        assert_no_injection(box, tmp_path / "recipes", Path.cwd())
        return
    assert proc.returncode == 0, proc.stderr
    calls = recorded(box)
    extracts = script_calls(calls, "extract.py")
    assert len(extracts) == 2 and all(flag_value(c, "--checkpoint") == value for c in extracts)
    (train,) = script_calls(calls, "train.py")
    assert train[0] == "torchrun" and flag_value(train, "--dp-size") == "1"
    (evaluate,) = script_calls(calls, "eval.py")
    assert flag_value(evaluate, "--checkpoint") == value
    assert_no_injection(box, tmp_path / "recipes", Path.cwd())
    # in Python the value is one string literal, nothing else
    tree = ast.parse((recipe / "extract.py").read_text())
    (default,) = [
        n.value
        for n in tree.body
        if isinstance(n, ast.Assign) and ast.unparse(n.targets[0]) == "DEFAULT_CHECKPOINT"
    ]
    assert isinstance(default, ast.Constant) and default.value == value


def test_hostile_output_dir_and_env_override_are_inert(tmp_path):
    """A recipe dir whose path holds shell syntax, and a hostile CHECKPOINT env override."""
    require_templates("esm2")
    out = tmp_path / f"$({PWN}) `{PWN}`; {PWN}"
    result = run_cli("new", "esm2", "--out", str(out))
    assert result.exit_code == 0, result.output
    recipe = out / "esm2_sae"
    box, env = sandbox(tmp_path)
    env["CHECKPOINT"] = f"$({PWN})"
    env["LAYER"] = f"3; {PWN}"
    proc = run_launch(recipe, box, env)
    assert proc.returncode == 0, proc.stderr
    calls = recorded(box)
    (train,) = script_calls(calls, "train.py")
    assert str(recipe / "train.py") in train and flag_value(train, "--layer") == f"3; {PWN}"
    assert all(flag_value(c, "--checkpoint") == f"$({PWN})" for c in calls if "--checkpoint" in c)
    assert_no_injection(box, tmp_path)
    assert os.listdir(out) == ["esm2_sae"]
