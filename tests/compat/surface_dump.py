"""Print, as JSON, the public surface of some `sae` modules in whatever `sae` is importable:
for each public name its kind, signature (parameter names, kinds, default reprs) and, for
dataclasses, fields with defaults. Run by test_public_surface.py in both virtualenvs."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import sys


def _params(obj) -> list[list[str]] | None:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    out = []
    for p in sig.parameters.values():
        default = "<required>" if p.default is inspect.Parameter.empty else repr(p.default)
        out.append([p.name, p.kind.name, default])
    return out


def _fields(cls) -> list[list[str]]:
    out = []
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            default = repr(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            default = repr(f.default_factory())
        else:
            default = "<required>"
        out.append([f.name, default])
    return out


def describe(module_name: str) -> dict:
    mod = importlib.import_module(module_name)
    names = getattr(mod, "__all__", None) or [
        n for n, v in vars(mod).items()
        if not n.startswith("_") and getattr(v, "__module__", "").startswith(module_name)
    ]  # fmt: skip
    out = {}
    for name in names:
        obj = getattr(mod, name, None)
        entry = {"kind": type(obj).__name__}
        if inspect.isclass(obj):
            entry["kind"] = "class"
            entry["init"] = _params(obj)
            if dataclasses.is_dataclass(obj):
                entry["fields"] = _fields(obj)
            entry["methods"] = {
                m: _params(f) for m, f in vars(obj).items() if callable(f) and not m.startswith("_")
            }
        elif callable(obj):
            entry["kind"] = "function"
            entry["params"] = _params(obj)
        out[name] = entry
    return out


if __name__ == "__main__":
    print(json.dumps({m: describe(m) for m in sys.argv[1:]}))
