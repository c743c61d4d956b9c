"""Rule registry: every module in `recipegen.validators.rules` named SAE<digits> is a rule."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from functools import lru_cache

from recipegen.validators import rules as _rules_pkg
from recipegen.validators.lazy_re import compile_lazy
from recipegen.validators.model import Invalid, Rule

_CODE = compile_lazy(r"^SAE\d{3}$")


def _no_check(ctx):  # engine-reported rules (SAE901, SAE902)
    return ()


@lru_cache(maxsize=1)
def _load() -> dict[str, Rule]:
    out: dict[str, Rule] = {}
    for info in pkgutil.iter_modules(_rules_pkg.__path__):
        if not _CODE.match(info.name):
            continue
        mod = importlib.import_module(f"{_rules_pkg.__name__}.{info.name}")
        code = mod.CODE
        if code != info.name:
            raise RuntimeError(f"rule module {info.name} declares CODE={code!r}")
        out[code] = Rule(
            code=code,
            name=mod.NAME,
            severity=mod.SEVERITY,
            summary=mod.SUMMARY,
            doc=inspect.cleandoc(mod.__doc__ or ""),
            gotchas=tuple(mod.GOTCHAS),
            VALID=tuple(mod.VALID),
            INVALID=tuple(_source(ex) for ex in mod.INVALID),
            EXPECT=tuple(ex if isinstance(ex, Invalid) else None for ex in mod.INVALID),
            launch=getattr(mod, "LAUNCH", False),
            kind=mod.KIND,
            example_path=getattr(
                mod, "EXAMPLE_PATH", "launch.sh" if mod.KIND == "shell" else "train.py"
            ),
            check=getattr(mod, "check", _no_check),
            skill_row=getattr(mod, "SKILL_ROW", ""),
            symptoms=tuple(
                s if s.codes else dataclasses.replace(s, codes=(code,))
                for s in getattr(mod, "SYMPTOMS", ())
            ),
            facts=dict(getattr(mod, "FACTS", {})),
        )
    return dict(sorted(out.items()))


def _source(example):
    return example.source if isinstance(example, Invalid) else example


def all_rules() -> list[Rule]:
    """Every rule, sorted by code."""
    return list(_load().values())


def get_rule(code: str) -> Rule:
    """The rule with `code` (case-insensitive); KeyError naming the code when unknown."""
    rules = _load()
    key = code.strip().upper()
    if key not in rules:
        raise KeyError(f"unknown rule code {code!r}; run `recipegen rules` to list them")
    return rules[key]
