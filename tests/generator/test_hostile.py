"""Hostile spec values and CLI arguments (issue 7 part 2): each refused with a named error, or
rendered inert -- proven by executing the rendered launch.sh in a sandbox whose `torchrun` and
`python` are stand-ins that record their argv."""

from __future__ import annotations

import ast
import json
import os
import resource
import subprocess
import sys
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
    ("model-subst", [f"$({PWN})"], "known models: antiberty, codonfm, esm2, evo2"),
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


# ---------------------------------------------------------------- round 2 (issue 13)


def cli_capped(args: list[str], cwd: Path, limit_bytes: int = 1 << 30, timeout: float = 60):
    """`recipegen ARGS` in a child with an address-space limit (a regression to expanding
    aliases fails with MemoryError instead of exhausting the machine); (exit code, output)."""

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))

    proc = subprocess.run(
        [sys.executable, "-c", "from recipegen.cli import main; main()", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=cap,
    )
    return proc.returncode, proc.stdout + proc.stderr


def _render_recipe(tmp_path: Path, model: str = "esm2") -> Path:
    require_templates(model)
    result = run_cli("new", model, "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    return tmp_path / "out" / f"{model}_sae"


def _check(directory: Path):
    return run_cli("check", str(directory))


def test_check_reports_a_carriage_return_that_hides_the_next_line_from_bash(tmp_path):
    recipe = _render_recipe(tmp_path)
    launch = recipe / "launch.sh"
    data = launch.read_bytes()
    assert b"\nset -euo pipefail\n" in data
    edited = data.replace(b"\nset -euo pipefail\n", b"\r  set -euo pipefail\n", 1)
    launch.write_bytes(edited)  # bash now reads "set -euo pipefail" as part of the comment
    result = _check(recipe)
    assert result.exit_code == 1, result.output
    assert "launch.sh (generated)" in result.output
    assert "\\r  set -euo pipefail" in result.output  # shown escaped, not as a raw CR
    assert "\r" not in result.output


def test_check_reports_crlf_line_endings(tmp_path):
    recipe = _render_recipe(tmp_path)
    for name in ("launch.sh", "train.py"):
        path = recipe / name
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    result = _check(recipe)
    assert result.exit_code == 1, result.output
    assert "+set -euo pipefail\\r" in result.output
    assert "train.py (generated)" in result.output


def test_check_reports_a_file_it_did_not_generate(tmp_path):
    recipe = _render_recipe(tmp_path)
    (recipe / "torch.py").write_text("raise SystemExit('shadowed')\n")
    (recipe / "sae").mkdir()  # a package directory shadows the runtime just as well
    result = _check(recipe)
    assert result.exit_code == 1, result.output
    assert f"{recipe / 'torch.py'}: a file recipegen did not generate" in result.output
    assert f"{recipe / 'sae'}: a directory recipegen did not generate" in result.output
    assert "user_files:" in result.output


def test_check_ignores_the_work_folder_and_caches_of_a_run(tmp_path):
    recipe = _render_recipe(tmp_path)
    (recipe / "work" / "cache_train").mkdir(parents=True)
    (recipe / "__pycache__").mkdir()
    (recipe / "__pycache__" / "extract.cpython-311.pyc").write_bytes(b"\0")
    result = _check(recipe)
    assert result.exit_code == 0, result.output


def test_user_files_allow_list_is_honoured_and_kept_across_rerenders(tmp_path):
    recipe = _render_recipe(tmp_path)
    (recipe / "notes.md").write_text("mine\n")
    (recipe / "seqs.fasta").write_text(">a\nMK\n")
    (recipe / "torch.py").write_text("x = 1\n")
    record = recipe / "recipe.yaml"
    text = record.read_text()
    assert "\nuser_files: []\n" in text
    record.write_text(text.replace("\nuser_files: []\n", '\nuser_files: [notes.md, "*.fasta"]\n'))
    result = _check(recipe)
    assert result.exit_code == 1
    assert "torch.py: a file recipegen did not generate" in result.output
    assert "notes.md" not in result.output and "seqs.fasta" not in result.output
    (recipe / "torch.py").unlink()
    assert _check(recipe).exit_code == 0
    # a re-render (new --force) keeps the user's list, so check stays clean
    result = run_cli("new", "esm2", "--out", str(tmp_path / "out"), "--force")
    assert result.exit_code == 0, result.output
    assert "- notes.md\n- '*.fasta'\n" in record.read_text()
    assert _check(recipe).exit_code == 0, _check(recipe).output


@pytest.mark.parametrize(
    "entry", ["../x", "sub/file.py", "''", ".", "1", json.dumps("a\u0007b")], ids=str
)
def test_bad_user_files_entries_are_named_errors(tmp_path, entry):
    recipe = _render_recipe(tmp_path)
    record = recipe / "recipe.yaml"
    record.write_text(record.read_text().replace("user_files: []", f"user_files: [{entry}]"))
    result = _check(recipe)
    assert result.exit_code == 2, result.output
    assert "user_files must be a list of file names" in result.output


def test_check_refuses_a_symlink_or_fifo_in_place_of_a_generated_file(tmp_path):
    recipe = _render_recipe(tmp_path)
    (recipe / "train.py").unlink()
    (recipe / "train.py").symlink_to("/dev/zero")
    (recipe / "eval.py").unlink()
    os.mkfifo(recipe / "eval.py")
    code, out = cli_capped(["check", str(recipe)], tmp_path)  # a regression blocks on the FIFO
    assert code == 1, out
    assert "train.py: is a symbolic link (not followed); recipegen wrote a regular file" in out
    assert "eval.py: is a FIFO, not a regular file" in out


def test_check_reports_a_launch_script_that_lost_its_execute_bit(tmp_path):
    recipe = _render_recipe(tmp_path)
    (recipe / "launch.sh").chmod(0o644)
    result = _check(recipe)
    assert result.exit_code == 1 and "launch.sh: not executable" in result.output


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """The classic "billion laughs": each level is `width` aliases of the previous one."""
    lines = ["name: bomb", 'a0: &a0 ["lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_yaml_alias_bomb_is_refused_at_the_first_anchor(tmp_path):
    text = alias_bomb()
    assert len(text) < 700  # 9**8 (43 million) strings once expanded
    spec = tmp_path / "bomb.yaml"
    spec.write_text(text)
    code, out = cli_capped(["new", "--spec", str(spec), "--out", str(tmp_path / "out")], tmp_path)
    assert code == 2, out
    assert f"{spec}:2: a0: YAML anchors and aliases are not allowed (found &a0)" in out
    assert not (tmp_path / "out").exists()


def test_yaml_alias_in_set_and_recipe_yaml_is_refused(tmp_path):
    result = run_cli("new", "esm2", "--set", "description=*x", "--out", str(tmp_path / "o"))
    assert result.exit_code == 2
    assert "description: YAML anchors and aliases are not allowed (found *x)" in result.output
    recipe = _render_recipe(tmp_path)
    record = recipe / "recipe.yaml"
    record.write_text(record.read_text() + alias_bomb().replace("name: bomb\n", ""))
    code, out = cli_capped(["check", str(recipe)], tmp_path)
    assert code == 2, out
    assert "YAML anchors and aliases are not allowed (found &a0)" in out


DEEP = "[" * 500 + "]" * 500


def test_deep_nesting_in_a_spec_is_a_named_error(tmp_path):
    spec = tmp_path / "deep.yaml"
    spec.write_text(MINIMAL_SPEC + "description: " + DEEP + "\n")
    result = run_cli("new", "--spec", str(spec), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2, result.output
    assert "description.0.0.0.0.0.0.0....: nested more than 32 levels deep" in result.output
    assert "Traceback" not in result.output


def test_deep_nesting_in_set_is_a_named_error(tmp_path):
    result = run_cli("new", "esm2", "--set", f"description={DEEP}", "--out", str(tmp_path))
    assert result.exit_code == 2, result.output
    assert ": description: nested more than 32 levels deep" in result.output


@pytest.mark.parametrize("key", ["model_type", "other"])
@pytest.mark.parametrize("depth", [500, 100_000])
def test_deep_nesting_in_config_json_is_a_named_error(tmp_path, key, depth):
    cfg = tmp_path / "config.json"
    deep = "[" * depth + "]" * depth
    cfg.write_text(
        '{"hidden_size": 64, "num_hidden_layers": 2, "max_position_embeddings": 128, '
        f'"{key}": {deep}}}'
    )
    result = run_cli("new", "--spec", str(cfg), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2, result.output
    assert "nested more than 32 levels deep" in result.output
    if depth == 500:
        assert f"config.json: {key}.0.0.0.0.0.0.0....: nested" in result.output


@pytest.mark.parametrize(
    "how", ["spec", "set", "json-value", "json-key"], ids=["spec", "set", "json-value", "json-key"]
)
def test_lone_surrogate_is_refused_naming_the_field(tmp_path, how):
    out = str(tmp_path / "out")
    if how == "spec":
        spec = tmp_path / "s.yaml"
        spec.write_text(MINIMAL_SPEC + 'description: "\\ud800"\n')
        result = run_cli("new", "--spec", str(spec), "--out", out)
        expected = f"{spec}:11: description: contains a lone surrogate \\ud800"
    elif how == "set":
        result = run_cli("new", "esm2", "--set", 'description="\\udfff"', "--out", out)
        expected = "description: contains a lone surrogate \\udfff"
    else:
        cfg = tmp_path / "config.json"
        pair = '"model_type": "\\ud800"' if how == "json-value" else '"\\ud800x": 1'
        cfg.write_text(
            '{"hidden_size": 64, "num_hidden_layers": 2, "max_position_embeddings": 128, '
            + pair
            + "}"
        )
        result = run_cli("new", "--spec", str(cfg), "--out", out)
        field = "model_type" if how == "json-value" else "\\ud800x"
        expected = f"config.json: {field}: contains a lone surrogate"
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert not (tmp_path / "out").exists()


def test_escape_sequences_in_key_names_are_never_echoed_raw(tmp_path):
    spec = tmp_path / "esc.yaml"
    spec.write_text(MINIMAL_SPEC + '"x\\e]0;pwned\\a\\e[31mRED": 1\n')
    result = run_cli("new", "--spec", str(spec), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2, result.output
    assert "x\\x1b]0;pwned\\x07\\x1b[31mRED: unknown key" in result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    result = run_cli("new", "esm2", "--set", "sae.\x1b[2Jx=1", "--out", str(tmp_path / "out"))
    assert result.exit_code == 2 and "\x1b" not in result.output
    assert "sae.\\x1b[2Jx: unknown key" in result.output


def test_recipe_yaml_edits_outside_user_files_are_still_drift(tmp_path):
    recipe = _render_recipe(tmp_path)
    record = recipe / "recipe.yaml"
    original = record.read_text()
    record.write_text(original.replace("user_files: []\n", "user_files: []\nextra: 1\n"))
    result = _check(recipe)
    assert result.exit_code == 2 and "unknown key(s) 'extra'" in result.output
    # user_files moved to the top: everything after it is still compared
    body = original.replace("user_files: []\n", "").replace("layer: 5", "layer: 4")
    head, _, rest = body.partition("recipegen_version:")
    record.write_text(head + "user_files: []\nrecipegen_version:" + rest)
    result = _check(recipe)
    assert result.exit_code == 1 and "recipe.yaml (generated)" in result.output


def test_control_characters_the_yaml_reader_refuses_are_named_errors(tmp_path):
    """Found by the property suite: PyYAML's reader raised before the loader's error handling."""
    spec = tmp_path / "ctl.yaml"
    spec.write_text(MINIMAL_SPEC + "description: a\x1fb\n")
    result = run_cli("new", "--spec", str(spec), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2, result.output
    assert f"{spec}:11: (yaml): character U+001F is not allowed in YAML" in result.output
    result = run_cli("new", "esm2", "--set", "description=a\x01", "--out", str(tmp_path / "out"))
    assert result.exit_code == 2 and "description: character U+0001 is not allowed" in result.output


def test_check_names_a_hostile_file_name_escaped(tmp_path):
    recipe = _render_recipe(tmp_path)
    with open(os.fsencode(recipe) + b"/\xff\x1b[2J.py", "w") as fh:
        fh.write("x = 1\n")
    result = _check(recipe)
    assert result.exit_code == 1
    assert "\\udcff\\x1b[2J.py: a file recipegen did not generate" in result.output
    assert "\x1b" not in result.output
