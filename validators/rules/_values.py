"""Python queries shared by the extractor rules: what a value appended to a store comes from
(a helper of a sibling module, the pieces a join concatenates) and the predict entry points a
script calls. Pure functions of `PythonFacts`."""

from __future__ import annotations

import ast

from recipegen.validators.facts_python import last_name, unparse


def joined(f, arg: ast.AST, scope: ast.AST) -> list[tuple[ast.AST, ast.AST]] | None:
    """The pieces `torch.cat(pieces)` joins: a literal list, or what was appended to a list
    variable in this file; None when they cannot be seen."""
    if isinstance(arg, (ast.List, ast.Tuple)):
        return [(e, scope) for e in arg.elts]
    if isinstance(arg, ast.Name):
        found = [
            (site.node.args[0], site.scope)
            for site in f.called("append")
            if site.node.args and unparse(site.receiver) == arg.id
        ]
        return found or None
    return None


def imported_function(f, name: str, ext) -> tuple | None:
    """For a function imported from the recipe's own modules: (its module's facts, its def),
    (f, None) when the module cannot be read; None when `name` is not such an import."""
    imp = f.own_import(name)
    if imp is None:
        return None
    other = ext(imp[0], imp[2]) if ext is not None else None
    if other is None:
        return f, None
    return other, other.functions.get(imp[1])


def helper_origin(f, expr: ast.AST, scope: ast.AST, ext, depth: int = 0) -> str | None:
    """Path of the sibling module whose helper produced `expr` (for messages), else None."""
    if depth > 8:
        return None
    if isinstance(expr, ast.Call):
        name = last_name(expr.func)
        if isinstance(expr.func, ast.Name):
            other = imported_function(f, name, ext)
            if other is not None and other[0] is not f:
                return f"`{name}` in {other[0].path}"
        if isinstance(expr.func, ast.Attribute):
            return helper_origin(f, expr.func.value, scope, ext, depth + 1)
        return None
    if isinstance(expr, ast.Subscript):
        return helper_origin(f, expr.value, scope, ext, depth + 1)
    if isinstance(expr, ast.Name):
        for v in f.values_of(expr, scope):
            if v is not expr:
                found = helper_origin(f, v, scope, ext, depth + 1)
                if found:
                    return found
    return None


def predict_calls(f) -> list:
    """Calls of a predict entry point: `predict(...)`, `predict.main()`, or `m.main()` where
    `m` was imported from a module named like *predict* (through names and parameters)."""
    out = []
    for name, sites in f.calls.items():
        for s in sites:
            if name == "append":
                continue
            if s.receiver is not None and name.lower().startswith("predict"):
                head = s.dotted.split(".")[0]
                if head not in f.imports:  # trainer.predict(), model.predict_step()
                    continue
            if "predict" in s.dotted.lower() or (
                name == "main"
                and s.receiver is not None
                and _mentions_predict(f, s.receiver, s.scope, 0)
            ):
                out.append(s)
    return out


def _mentions_predict(f, expr: ast.AST, scope: ast.AST, depth: int) -> bool:
    if depth > 4:
        return False
    if "predict" in unparse(expr).lower():
        return True
    if isinstance(expr, ast.Name):
        if expr.id in f.params.get(id(scope), []):
            return any(
                _mentions_predict(f, a, s, depth + 1) for a, s in f._param_args(scope, expr.id)
            )
        vals = f.values_of(expr, scope)
        if vals != [expr]:
            return any(_mentions_predict(f, v, scope, depth + 1) for v in vals)
    if isinstance(expr, ast.Call):
        return any(_mentions_predict(f, a, scope, depth + 1) for a in expr.args)
    if isinstance(expr, ast.Attribute):
        return _mentions_predict(f, expr.value, scope, depth + 1)
    return False


def combine(kinds: list[str]) -> str:
    if "bf16" in kinds:
        return "bf16"
    if kinds and all(k == "cast" for k in kinds):
        return "cast"
    if "unknown" in kinds:
        return "unknown"
    return "none"
