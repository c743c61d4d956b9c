"""Our architectures / parallel / kernels modules expose the reference library's public names
with the same parameters and defaults (read from the reference sources with `ast`)."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

REF_SRC = Path(__file__).resolve().parents[3] / "shared" / "reference" / "bionemo-sae" / "src"
MODULES = [
    "sae.architectures",
    "sae.architectures.base",
    "sae.architectures.topk",
    "sae.architectures.relu_l1",
    "sae.architectures.moe",
    "sae.architectures.topk_tp",
    "sae.parallel",
    "sae.parallel.comms",
    "sae.parallel.topk",
    "sae.parallel.checkpoint",
    "sae.parallel.training",
    "sae.process_group_manager",
    "sae.kernels",
    "sae.kernels.reference",
    "sae.kernels.triton_decoder",
    "sae.benchmarks.bench_decoder",
]


def _ref_file(module: str) -> Path:
    base = REF_SRC.joinpath(*module.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def _params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[tuple[str, str | None]]:
    a = fn.args
    pos = a.posonlyargs + a.args
    defaults = [None] * (len(pos) - len(a.defaults)) + [ast.unparse(d) for d in a.defaults]
    out = list(zip([p.arg for p in pos], defaults, strict=True))
    kw = [ast.unparse(d) if d is not None else None for d in a.kw_defaults]
    out += list(zip([p.arg for p in a.kwonlyargs], kw, strict=True))
    return [(n, d) for n, d in out if n not in ("self", "cls", "ctx")]


def _ours(obj) -> list[tuple[str, object]]:
    sig = inspect.signature(obj)
    return [
        (p.name, None if p.default is inspect.Parameter.empty else p.default)
        for p in sig.parameters.values()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name not in ("self", "cls", "ctx")
    ]


def _arith(node):
    """Value of a literal or of plain arithmetic on literals (e.g. ``1 / 32``)."""
    if isinstance(node, ast.BinOp):
        ops = {ast.Div: float.__truediv__, ast.Mult: float.__mul__, ast.Pow: float.__pow__}
        return ops[type(node.op)](float(_arith(node.left)), float(_arith(node.right)))
    return ast.literal_eval(node)


def _same_default(ref_src: str | None, ours) -> bool:
    if ref_src is None:
        return ours is None
    return _arith(ast.parse(ref_src, mode="eval").body) == ours


def _public_defs(tree: ast.Module):
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
            yield node


@pytest.mark.parametrize("module", MODULES)
def test_public_names_and_signatures_match_reference(module):
    path = _ref_file(module)
    if not path.is_file():
        pytest.skip(f"{path} not present (fresh clone without ../shared)")
    tree = ast.parse(path.read_text())
    ours = importlib.import_module(module)
    for node in tree.body:  # __all__ of packages
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            for name in ast.literal_eval(node.value):
                assert hasattr(ours, name), f"{module}.{name} missing"
    for node in _public_defs(tree):
        assert hasattr(ours, node.name), f"{module}.{node.name} missing"
        obj = getattr(ours, node.name)
        defs = [node] if isinstance(node, ast.FunctionDef) else []
        if isinstance(node, ast.ClassDef):
            defs = [
                m
                for m in node.body
                if isinstance(m, ast.FunctionDef)
                and (m.name == "__init__" or not m.name.startswith("_"))
            ]
        for fn in defs:
            target = obj if fn is node else getattr(obj, fn.name, None)
            assert target is not None, f"{module}.{node.name}.{fn.name} missing"
            if isinstance(inspect.getattr_static(obj, fn.name, None), property):
                continue
            want = _params(fn)
            got = _ours(target)
            where = f"{module}.{node.name}" + ("" if fn is node else f".{fn.name}")
            assert [n for n, _ in got] == [n for n, _ in want], where
            for (name, ref_default), (_, our_default) in zip(want, got, strict=True):
                assert _same_default(ref_default, our_default), f"{where}({name}=...)"
