"""scripts/import_graph.py: the project's import graph has no cycle, counting every import
(function-level, TYPE_CHECKING, dynamic), and the script finds the cycles it should."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from textwrap import dedent

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "import_graph.py"

_spec = importlib.util.spec_from_file_location("import_graph", SCRIPT)
ig = importlib.util.module_from_spec(_spec)
sys.modules["import_graph"] = ig  # dataclasses look their module up
_spec.loader.exec_module(ig)


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120
    )


def _project(root: Path, files: dict[str, str], pyproject: str | None = None) -> Path:
    """A throwaway project: `pyproject` (default: package `pkg` in `pkg/`) plus `files`."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        pyproject or '[tool.setuptools]\npackages = ["pkg"]\n', encoding="utf-8"
    )
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text), encoding="utf-8")
    return root


def _edges(g) -> set[tuple[str, str, str]]:
    return {(e.src, e.dst, e.kind) for e in g.edges}


# ---------------------------------------------------------------- the project itself


def test_project_has_no_import_cycle():
    proc = _run()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ", 0 cycle(s)" in proc.stdout.splitlines()[0]


def test_project_graph_covers_both_distributions_and_every_import_kind():
    g = ig.Graph(REPO)
    # mapped folders get their import names; sae comes from sae/pyproject.toml's find
    for name in (
        "recipegen.cli",
        "recipegen.generator.spec",
        "recipegen.generator.rawspec",
        "recipegen.validators.rules",
        "recipegen.templates",
        "sae.analysis.stats",
        "sae.parallel.checkpoint",
    ):
        assert name in g.modules, name
    edges = _edges(g)
    gen = "recipegen.generator"
    assert (f"{gen}.spec", f"{gen}.hfconfig", "top") in edges
    assert (f"{gen}.hfconfig", f"{gen}.rawspec", "top") in edges
    assert (f"{gen}.validate", f"{gen}.rawspec", "top") in edges
    # the CLI's lazy command table: string literals naming modules
    assert ("recipegen.cli", f"{gen}.commands", "dynamic") in edges
    assert {e.kind for e in g.edges} == {"top", "local", "typing", "dynamic"}


# ---------------------------------------------------------------- what counts as a cycle


def test_cycle_hidden_in_a_function_still_counts(tmp_path):
    root = _project(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/spec.py": """\
                from .validate import check
                class Raw: ...
                def load():
                    from .hf import read
                    return read()
            """,
            "pkg/hf.py": "from .spec import Raw\n",
            "pkg/validate.py": "def check(): ...\n",
        },
    )
    g = ig.Graph(root)
    assert g.cycles() == [["pkg.hf", "pkg.spec"]]
    proc = _run(str(root))
    assert proc.returncode == 1
    assert "cycle: pkg.hf <-> pkg.spec" in proc.stdout
    assert "pkg/spec.py:4: pkg.spec -> pkg.hf [local]" in proc.stdout
    assert "pkg/hf.py:1: pkg.hf -> pkg.spec [top]" in proc.stdout


def test_type_checking_cycle_counts_unless_runtime_only(tmp_path):
    root = _project(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg.b import f\nclass A: ...\n",
            "pkg/b.py": """\
                from typing import TYPE_CHECKING
                if TYPE_CHECKING:
                    from pkg.a import A
                else:
                    import json
                def f(a: A): ...
            """,
        },
    )
    assert ("pkg.b", "pkg.a", "typing") in _edges(ig.Graph(root))
    proc = _run(str(root))
    assert proc.returncode == 1 and "pkg.b -> pkg.a [typing]" in proc.stdout
    assert _run("--runtime", str(root)).returncode == 0


def test_package_reexporting_its_submodules_is_no_cycle(tmp_path):
    root = _project(
        tmp_path,
        {
            "pkg/__init__.py": "from .stats import Stats\nfrom .atlas import save\n",
            "pkg/stats.py": "class Stats: ...\n",
            # a sibling's name asked of the package resolves to the sibling
            "pkg/atlas.py": "from pkg import Stats\ndef save(): ...\n",
        },
    )
    g = ig.Graph(root)
    assert ("pkg.atlas", "pkg.stats", "top") in _edges(g)
    assert ("pkg.atlas", "pkg", "top") not in _edges(g)
    assert g.cycles() == []


def test_name_defined_in_the_package_init_is_a_cycle_with_its_submodule(tmp_path):
    root = _project(
        tmp_path,
        {
            "pkg/__init__.py": "VERSION = '1'\nfrom .atlas import save\n",
            "pkg/atlas.py": "from . import VERSION\ndef save(): ...\n",
        },
    )
    assert ig.Graph(root).cycles() == [["pkg", "pkg.atlas"]]


def test_mapped_folders_relative_imports_and_parent_inits(tmp_path):
    # `pkg.gen` lives in gen/ (package-dir), as recipegen.generator lives in generator/
    root = _project(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/errors.py": "class E(Exception): ...\n",
            "gen/__init__.py": "",
            "gen/sub/__init__.py": "",
            "gen/sub/deep.py": "from ... import errors\nfrom ..spec import load\nimport pkg.gen.spec\n",
            "gen/spec.py": "def load(): ...\n",
        },
        pyproject=dedent("""\
            [tool.setuptools]
            packages = ["pkg", "pkg.gen", "pkg.gen.sub"]
            [tool.setuptools.package-dir]
            "pkg" = "pkg"
            "pkg.gen" = "gen"
        """),
    )
    g = ig.Graph(root)
    assert {
        "pkg",
        "pkg.errors",
        "pkg.gen",
        "pkg.gen.sub",
        "pkg.gen.sub.deep",
        "pkg.gen.spec",
    } == set(g.modules)
    deep = {(d, k) for s, d, k in _edges(g) if s == "pkg.gen.sub.deep"}
    # no edge to its own ancestors pkg, pkg.gen, pkg.gen.sub: they are already running
    assert deep == {("pkg.errors", "top"), ("pkg.gen.spec", "top")}


def test_cycle_through_another_package_init(tmp_path):
    # a.x needs b.y; importing b.y runs b/__init__, which imports b.z, which needs a (locally):
    # the shape sae.architectures <-> sae.parallel had
    files = {
        "a/__init__.py": "from .x import X\n",
        "a/x.py": "from b.y import helper\nclass X: ...\n",
        "b/y.py": "def helper(): ...\n",
        "b/z.py": "def load():\n    from a.x import X\n    return X\n",
    }
    pyproject = '[tool.setuptools]\npackages = ["a", "b"]\n'
    eager = _project(
        tmp_path / "eager",
        {**files, "b/__init__.py": "from .y import helper\nfrom .z import load\n"},
        pyproject,
    )
    g = ig.Graph(eager)
    assert ("a.x", "b", "top") in _edges(g)  # b's __init__ runs first
    assert g.cycles() == [["a", "a.x", "b", "b.z"]]
    # the same package with a lazy re-export table: importing b.y loads nothing else
    lazy_init = """\
        from mylazy import lazy_exports
        _EXPORTS = {".y": ("helper",), ".z": ("load",)}
        __getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
    """
    lazy = _project(tmp_path / "lazy", {**files, "b/__init__.py": lazy_init}, pyproject)
    assert ig.Graph(lazy).cycles() == []
    # ... and a name asked of the lazy package resolves through the table to its home
    user = _project(
        tmp_path / "user",
        {**files, "b/__init__.py": lazy_init, "a/x.py": "from b import load\nclass X: ...\n"},
        pyproject,
    )
    g = ig.Graph(user)
    assert ("a.x", "b.z", "top") in _edges(g)
    assert g.cycles() == [["a", "a.x", "b.z"]]


def test_module_named_in_a_string_table_is_a_dynamic_edge(tmp_path):
    root = _project(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/cli.py": 'COMMANDS = {"new": ("pkg.commands", "new")}\nVERSION = "1"\n',
            "pkg/commands.py": "from pkg.cli import VERSION\n",
        },
    )
    g = ig.Graph(root)
    assert ("pkg.cli", "pkg.commands", "dynamic") in _edges(g)
    assert g.cycles() == [["pkg.cli", "pkg.commands"]]


def test_dot_output_marks_the_cycle(tmp_path):
    root = _project(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "import pkg.b\n",
            "pkg/b.py": "def f():\n    import pkg.a\n",
            "pkg/c.py": "import pkg.a\n",
        },
    )
    proc = _run("--dot", str(root))
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0] == "digraph imports {" and lines[-1] == "}"
    assert '  "pkg.b" -> "pkg.a" [style=dashed, tooltip="local", color=red];' in lines
    assert '  "pkg.c" -> "pkg.a" [style=solid, tooltip="top"];' in lines


def test_not_a_project_root_is_a_clear_error(tmp_path):
    proc = _run(str(tmp_path))
    assert proc.returncode == 2
    assert "no pyproject.toml" in proc.stderr and "Traceback" not in proc.stderr


def test_unparsable_module_is_a_clear_error(tmp_path):
    root = _project(tmp_path, {"pkg/__init__.py": "", "pkg/bad.py": "def f(:\n"})
    proc = _run(str(root))
    assert proc.returncode == 2
    assert "pkg/bad.py" in proc.stderr and "Traceback" not in proc.stderr


def test_json_output_lists_edges_with_file_and_line(tmp_path):
    root = _project(
        tmp_path, {"pkg/__init__.py": "", "pkg/a.py": "\n\nfrom . import b\n", "pkg/b.py": ""}
    )
    proc = _run("--json", str(root))
    assert proc.returncode == 0
    doc = json.loads(proc.stdout)
    assert doc["cycles"] == [] and doc["modules"] == ["pkg", "pkg.a", "pkg.b"]
    assert doc["edges"] == [
        {"src": "pkg.a", "dst": "pkg.b", "kind": "top", "file": "pkg/a.py", "line": 3, "via": ""}
    ]
