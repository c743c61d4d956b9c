"""Security sweep over every shipped Python file (issue 7, part 4).

Walks the AST (not a text grep, so strings and docstrings that *mention* a call do not count) of
the generator, linter, CLI, runtime, benchmarks and the committed rendered recipes, and fails on:
unsafe YAML loading, `eval`/`exec`, `shell=True`, pickle loads, and `torch.load` without
`weights_only=True`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ["recipegen", "generator", "validators", "sae/src", "recipes", "bench", "tests/fixtures"]
UNSAFE_YAML_LOADERS = {"Loader", "UnsafeLoader", "FullLoader", "CLoader", "CUnsafeLoader"}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _kw(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def violations(source: str) -> list[str]:
    """Return one message per unsafe construct in `source`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        line = node.lineno
        if name in {"eval", "exec"}:
            found.append(f"line {line}: {name}()")
        if name in {"yaml.unsafe_load", "yaml.full_load", "yaml.unsafe_load_all"}:
            found.append(f"line {line}: {name}()")
        if name in {"yaml.load", "yaml.load_all"}:
            loader = _kw(node, "Loader") or (node.args[1] if len(node.args) > 1 else None)
            if loader is None or _dotted(loader).split(".")[-1] in UNSAFE_YAML_LOADERS:
                found.append(f"line {line}: {name}() without a safe Loader")
        if name in {"pickle.load", "pickle.loads", "cloudpickle.load", "dill.load"}:
            found.append(f"line {line}: {name}()")
        shell = _kw(node, "shell")
        if isinstance(shell, ast.Constant) and shell.value is True:
            found.append(f"line {line}: shell=True")
        if name == "torch.load":
            wo = _kw(node, "weights_only")
            if not (isinstance(wo, ast.Constant) and wo.value is True):
                found.append(f"line {line}: torch.load without weights_only=True")
    return found


def _files() -> list[Path]:
    files = []
    for rel in SCANNED:
        base = ROOT / rel
        if base.is_dir():
            files.extend(p for p in sorted(base.rglob("*.py")) if ".venv" not in p.parts)
    return files


def test_sweep_covers_the_shipped_code():
    files = {p.relative_to(ROOT).parts[0] for p in _files()}
    assert {"recipegen", "generator", "validators"} <= files


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_unsafe_calls(path: Path):
    assert violations(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "snippet",
    [
        "import yaml\nyaml.load(open('x'))",
        "import yaml\nyaml.load(s, Loader=yaml.FullLoader)",
        "import yaml\nyaml.unsafe_load(s)",
        "eval(user_input)",
        "exec(code)",
        "import subprocess\nsubprocess.run(cmd, shell=True)",
        "import torch\ntorch.load(path)",
        "import torch\ntorch.load(path, weights_only=False)",
        "import pickle\npickle.loads(blob)",
    ],
)
def test_the_sweep_catches_each_unsafe_form(snippet: str):
    assert violations(snippet), snippet


@pytest.mark.parametrize(
    "snippet",
    [
        "import yaml\nyaml.safe_load(s)",
        "import yaml\nyaml.load(s, Loader=yaml.SafeLoader)",
        "import torch\ntorch.load(p, weights_only=True, map_location='cpu')",
        "model.eval()",
        "import subprocess\nsubprocess.run(['bash', '-n', path], check=True)",
        "doc = 'never call eval(x) or torch.load(p)'",
    ],
)
def test_the_sweep_allows_safe_forms(snippet: str):
    assert violations(snippet) == []
