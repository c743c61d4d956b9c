"""`recipegen` imports a command's module only when it runs: `--help`, `--version` and `lint`
stay light. The table of commands in cli.py agrees with each area's own COMMANDS."""

from __future__ import annotations

import importlib
import subprocess
import sys

from click.testing import CliRunner

from recipegen import cli

AREAS = (
    "recipegen.generator.commands",
    "recipegen.validators.commands",
    "recipegen.skill_install",
    "recipegen.demo",
)


def test_the_lazy_table_lists_every_command_with_its_own_short_help():
    real = {}
    for name in AREAS:
        for command in importlib.import_module(name).COMMANDS:
            real[command.name] = (name, command)
    assert set(real) == set(cli.COMMANDS)
    for name, (module, _attr, short) in cli.COMMANDS.items():
        assert module == real[name][0] and cli.load_command(name) is real[name][1]
        assert short == real[name][1].get_short_help_str(limit=200), name


def test_help_lists_every_command():
    out = CliRunner().invoke(cli.main, ["--help"]).output
    for name, (_, _, short) in cli.COMMANDS.items():
        assert f"  {name}" in out and short in out


def _modules_after(args: list[str]) -> set[str]:
    code = (
        "import sys\nfrom recipegen.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "print(' '.join(sorted(sys.modules)), file=sys.stderr)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
    )
    return set(proc.stderr.split())


def test_version_and_help_import_no_command_module():
    for args in (["--version"], ["--help"]):
        mods = _modules_after(args)
        assert not {m for m in mods if m.startswith(("jinja2", "yaml", "bashlex"))}, args
        assert not set(AREAS) & mods, args


def test_linting_a_python_file_imports_neither_generator_nor_shell_parser(tmp_path):
    f = tmp_path / "a.py"
    f.write_text("x = 1\n")
    mods = _modules_after(["lint", str(f)])
    assert "recipegen.validators.engine" in mods
    assert not {
        m for m in mods if m.startswith(("jinja2", "yaml", "bashlex", "recipegen.generator"))
    }


def test_a_plain_python_file_loads_no_shell_machinery_and_no_json(tmp_path):
    f = tmp_path / "a.py"
    f.write_text("x = 1\n")
    mods = _modules_after(["lint", str(f)])
    for absent in (
        "recipegen.validators.facts_shell",
        "recipegen.validators.launches",
        "subprocess",
        "concurrent.futures",
        "json",
        "difflib",
    ):
        assert absent not in mods, absent


def test_one_small_shell_script_needs_no_thread_pool(tmp_path):
    f = tmp_path / "a.sh"
    f.write_text("#!/bin/bash\necho hi\n")
    mods = _modules_after(["lint", str(f)])
    assert "recipegen.validators.facts_shell" in mods
    assert "concurrent.futures" not in mods and "difflib" not in mods


def _console(args: list[str], cwd) -> subprocess.CompletedProcess:
    """The CLI as the console script runs it (`main()`, no arguments: the fast exit path)."""
    code = "import sys; from recipegen.cli import main; sys.argv[0] = 'recipegen'; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, check=False
    )


def test_the_console_script_keeps_every_line_and_the_exit_status(tmp_path):
    # far more output than a pipe holds: all of it arrives before the process ends
    lines = "".join(f"ckpt{i} = torch.load('c{i}.pt')\n" for i in range(3000))
    (tmp_path / "eval.py").write_text("import torch\n" + lines)
    proc = _console(["lint", "eval.py"], tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.count("SAE306") == 3000
    assert proc.stdout.rstrip().endswith("in 1 file(s).")
    assert _console(["--version"], tmp_path).stdout.startswith("recipegen, version ")
    bad = _console(["lint", "--select", "XYZ9", "eval.py"], tmp_path)
    assert bad.returncode == 2 and "XYZ9" in bad.stderr
    assert _console(["rule", "SAE306"], tmp_path).returncode == 0
