"""Same public names, parameters and defaults as the reference's analysis, collector and
autointerp modules (read from its source with `ast`, never imported or copied)."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

pytest.importorskip("torch")

REF = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "reference"
    / "bionemo-sae"
    / "src"
    / "sae"
)
MODULES = {
    "analysis.py": "sae.analysis",
    "collector.py": "sae.collector",
    "autointerp/llm.py": "sae.autointerp",
    "autointerp/sampler.py": "sae.autointerp",
    "autointerp/interpreter.py": "sae.autointerp",
}


def reference_defs():
    if not REF.is_dir():
        pytest.skip(f"{REF} not present (fresh clone without ../shared)")
    for rel, ours in MODULES.items():
        tree = ast.parse((REF / rel).read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_"):
                yield rel, ours, node
            elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
                if node.targets[0].id.isupper():
                    yield rel, ours, node


def params_of(fn: ast.FunctionDef) -> list[tuple[str, str | None]]:
    args = fn.args.args + fn.args.kwonlyargs
    defaults = [None] * (len(fn.args.args) - len(fn.args.defaults)) + list(fn.args.defaults)
    defaults += list(fn.args.kw_defaults)
    out = []
    for a, d in zip(args, defaults, strict=True):
        if a.arg in ("self", "cls"):
            continue
        out.append((a.arg, None if d is None else repr(ast.literal_eval(d))))
    return out


def our_params(obj) -> list[tuple[str, str | None]]:
    sig = inspect.signature(obj)
    empty = inspect.Parameter.empty
    return [(n, None if p.default is empty else repr(p.default)) for n, p in sig.parameters.items()]


def test_every_reference_name_exists_with_its_parameters_and_defaults():
    checked = 0
    for rel, ours, node in reference_defs():
        module = importlib.import_module(ours)
        name = node.targets[0].id if isinstance(node, ast.Assign) else node.name
        assert hasattr(module, name), f"{ours}.{name} (from the reference {rel}) is missing"
        obj = getattr(module, name)
        if isinstance(node, ast.FunctionDef):
            # ours may add keyword parameters after the reference's, never change theirs
            assert our_params(obj)[: len(params_of(node))] == params_of(node), f"{ours}.{name}"
        elif isinstance(node, ast.ClassDef):
            fields = [s.target.id for s in node.body if isinstance(s, ast.AnnAssign)]
            if fields:  # a dataclass: same fields in the same order
                assert list(obj.__dataclass_fields__)[: len(fields)] == fields, f"{ours}.{name}"
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and (
                    not item.name.startswith("_") or item.name == "__init__"
                ):
                    assert hasattr(obj, item.name), f"{ours}.{name}.{item.name} is missing"
                    if item.name == "__init__" and not fields:
                        got = our_params(obj)
                        assert got[: len(params_of(item))] == params_of(item), f"{ours}.{name}"
        checked += 1
    assert checked >= 30


def test_sae_exports_the_reference_analysis_names():
    import sae

    tree = ast.parse((REF / "__init__.py").read_text()) if REF.is_dir() else None
    if tree is None:
        pytest.skip("reference not present")
    wanted = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module in (
            "analysis",
            "collector",
            "autointerp",
        ):
            wanted |= {a.name for a in node.names}
    assert len(wanted) >= 30
    missing = sorted(n for n in wanted if not hasattr(sae, n) or n not in sae.__all__)
    assert not missing, missing
