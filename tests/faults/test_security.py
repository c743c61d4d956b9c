"""Security policy over every shipped Python file (issue 7, part 4).

ruff enforces most of it on every file `ruff check .` sees (scripts/test.sh runs it): exec, eval,
pickle, unsafe YAML loading and shell=True are the S-rules selected in pyproject.toml, so no test
re-checks them. What ruff has no rule for, `torch.load` without `weights_only=True`, is our own
lint rule SAE306, run here over the shipped code (its good and bad examples are tested with the
other rules in tests/lint/test_rule_examples.py).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ["recipegen", "generator", "validators", "sae/src", "recipes", "bench"]
# what ruff must keep selecting, in the project's configuration (the rule names in `ruff rule`)
RUFF_SECURITY_RULES = {
    "S102": "exec-builtin",
    "S301": "suspicious-pickle-usage",
    "S307": "suspicious-eval-usage",
    "S506": "unsafe-yaml-load",
    "S602": "subprocess-popen-with-shell-equals-true",
    "S604": "call-with-shell-equals-true",
}


def _lint(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from recipegen.cli import main; main()",
            "lint",
            "--select",
            "SAE306",
            *args,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_ruff_selects_the_security_rules():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    lint = config["tool"]["ruff"]["lint"]
    selected = set(lint["select"]) | set(lint.get("extend-select", []))
    assert set(RUFF_SECURITY_RULES) <= selected, sorted(set(RUFF_SECURITY_RULES) - selected)
    assert not set(RUFF_SECURITY_RULES) & set(lint.get("ignore", []))
    excluded = config["tool"]["ruff"].get("extend-exclude", [])
    assert not set(SHIPPED) & set(excluded), "shipped code must stay under ruff"


def test_no_torch_load_without_weights_only_in_shipped_code():
    proc = _lint(*SHIPPED)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    files = int(re.search(r"\((\d+) file", proc.stdout).group(1))
    assert files > 100, proc.stdout  # the sweep really walked the shipped tree


def test_the_sweep_reports_an_unsafe_load(tmp_path):
    bad = tmp_path / "convert.py"
    bad.write_text("import torch\nstate = torch.load('legacy.pt', weights_only=False)\n")
    proc = _lint(str(bad))
    assert proc.returncode == 1
    assert f"{bad}:2:9: SAE306" in proc.stdout
