"""Lazy re-exports for a package (PEP 562): a table of submodule -> names replaces eager imports.

A name is imported from its submodule on first access (``sae.TopKSAE``, ``from sae import X``,
``from sae import *``) and then cached in the package; a submodule is reachable as an attribute
(``import sae; sae.eval``) as it is after an eager import. So ``import sae`` itself loads nothing
but the package and the reference's whole surface still resolves.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping


def lazy_exports(
    package: str, table: Mapping[str, tuple[str, ...]]
) -> tuple[Callable[[str], object], Callable[[], list[str]], list[str]]:
    """-> ``(__getattr__, __dir__, __all__)`` for ``package``; ``table`` maps a submodule
    (relative, e.g. ``".llm"``) to the names it provides."""
    home = {name: module for module, names in table.items() for name in names}

    def __getattr__(name: str) -> object:
        if name in home:
            value = getattr(importlib.import_module(home[name], package), name)
        elif not name.startswith("__") and importlib.util.find_spec(f"{package}.{name}"):
            value = importlib.import_module(f"{package}.{name}")
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *home})

    return __getattr__, __dir__, list(home)
