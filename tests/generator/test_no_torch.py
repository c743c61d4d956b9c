"""`recipegen` (generator + lint) installs and imports without torch: every module imports, and
`recipegen new` / `check` / `lint` run, in a Python where torch and transformers cannot be
imported (a meta-path blocker installed by a sitecustomize.py ahead of everything else)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from gen_helpers import MODELS

BLOCKED = ("torch", "transformers")
SITECUSTOMIZE = f"""\
import sys

BLOCKED = {BLOCKED!r}


class _Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked by the test)")
        return None


sys.meta_path.insert(0, _Blocker())
"""
# Every package pyproject ships, and every module in each package's own folder.
IMPORT_ALL = """\
import importlib, pkgutil, sys, tomllib

packages = tomllib.load(open({pyproject!r}, "rb"))["tool"]["setuptools"]["packages"]
names = []
for package in packages:
    names.append(package)
    folder = importlib.import_module(package).__path__[0]
    names += [f"{{package}}.{{m.name}}" for m in pkgutil.iter_modules([folder]) if not m.ispkg]
for name in names:
    importlib.import_module(name)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {blocked!r})
assert not loaded, loaded
print(len(names))
"""
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


@pytest.fixture(scope="module")
def no_torch_env(tmp_path_factory) -> dict[str, str]:
    site = tmp_path_factory.mktemp("no_torch_site")
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    path = os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return dict(os.environ, PYTHONPATH=path)


def run(env: dict[str, str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_the_blocker_really_blocks_torch(no_torch_env):
    result = run(no_torch_env, "-c", "import torch")
    assert result.returncode != 0 and "blocked by the test" in result.stderr


def test_every_recipegen_module_imports_without_torch(no_torch_env):
    result = run(no_torch_env, "-c", IMPORT_ALL.format(blocked=BLOCKED, pyproject=str(PYPROJECT)))
    assert result.returncode == 0, result.stderr
    # the generator, validators (+ every rule), templates, skill helpers and the CLI
    assert int(result.stdout.strip()) > 40


def test_no_recipegen_module_is_a_model_adapter_or_stand_in():
    import recipegen

    root = Path(recipegen.__file__).parent
    assert not (root / "adapters").exists() and not (root / "standins").exists()


def test_new_check_and_lint_run_without_torch(tmp_path, no_torch_env):
    cli = "import sys; from recipegen.cli import main; sys.argv[0] = 'recipegen'; main()"
    for model in MODELS:
        result = run(no_torch_env, "-c", cli, "new", model, "--out", str(tmp_path))
        assert result.returncode == 0, result.stderr
    recipes = sorted(str(p) for p in tmp_path.iterdir())
    assert len(recipes) == len(MODELS)
    result = run(no_torch_env, "-c", cli, "check", *recipes)
    assert result.returncode == 0, result.stdout + result.stderr
    result = run(no_torch_env, "-c", cli, "lint", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All checks passed" in result.stdout
