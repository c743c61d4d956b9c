"""Import bashlex with its LALR tables built once and cached, not rebuilt by every process.

bashlex's bundled yacc builds the parse tables of its bash grammar at import (about 0.2 s, most
of a lint run's start-up). The first import builds them as usual and stores them as JSON
(`$XDG_CACHE_HOME/recipegen/`, default `~/.cache/recipegen/`); later imports hand bashlex the
stored tables instead. The cache is keyed by a hash of bashlex's grammar and parser generator
sources, checked for shape before use, written atomically, and never trusted as code (JSON,
not pickle). Any problem (no cache folder, a read-only home, a corrupt file) only means the
tables are built again.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

_FORMAT = 1


class _Production:
    """What bashlex's LR parser reads of a grammar production."""

    __slots__ = ("name", "len", "str", "func", "callable")

    def __init__(self, name: str, length: int, text: str, func: str | None) -> None:
        self.name, self.len, self.str, self.func, self.callable = name, length, text, func, None

    def bind(self, pdict: dict) -> None:
        if self.func:
            self.callable = pdict[self.func]


def _cache_file() -> Path | None:
    spec = importlib.util.find_spec("bashlex")
    if spec is None or not spec.submodule_search_locations:
        return None
    pkg = Path(next(iter(spec.submodule_search_locations)))
    import hashlib

    digest = hashlib.sha256()
    for name in ("parser.py", "yacc.py", "tokenizer.py"):
        try:
            digest.update((pkg / name).read_bytes())
        except OSError:
            return None
    digest.update(f"{_FORMAT} {sys.version_info[:2]}".encode())
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "recipegen" / f"bashlex-tables-{digest.hexdigest()[:20]}.json"


def _valid(data: object) -> bool:
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        return False
    action, goto, prods = data.get("action"), data.get("goto"), data.get("productions")
    return (
        isinstance(action, list)
        and isinstance(goto, list)
        and isinstance(prods, list)
        and all(isinstance(row, dict) for row in action + goto)
        and all(isinstance(v, int) for row in action + goto for v in row.values())
        and all(
            isinstance(p, list)
            and len(p) == 4
            and isinstance(p[0], str)
            and isinstance(p[1], int)
            and isinstance(p[2], str)
            and (p[3] is None or (isinstance(p[3], str) and p[3].startswith("p_")))
            for p in prods
        )
    )


def _read(path: Path) -> dict | None:
    try:
        with open(path, "rb") as fh:
            data = json.loads(fh.read(5_000_000))
    except (OSError, ValueError):
        return None
    return data if _valid(data) else None


def _snapshot(parser) -> dict:
    """The tables as yacc built them (copies: bashlex patches a few states after import)."""
    return {
        "format": _FORMAT,
        "action": [dict(parser.action[s]) for s in range(len(parser.action))],
        "goto": [dict(parser.goto.get(s, {})) for s in range(len(parser.action))],
        "productions": [[p.name, p.len, p.str, p.func] for p in parser.productions],
    }


def _write(path: Path, data: dict) -> None:
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        import tempfile

        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".bashlex-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, separators=(",", ":"))
        os.replace(tmp, path)
    except OSError:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _parser_from(data: dict, yacc, pdict: dict):
    table = type("LRTable", (), {})()
    table.lr_action = dict(enumerate(data["action"]))
    table.lr_goto = {state: row for state, row in enumerate(data["goto"]) if row}
    table.lr_productions = [_Production(*p) for p in data["productions"]]
    for prod in table.lr_productions:
        prod.bind(pdict)
    return yacc.LRParser(table, pdict["p_error"])


def import_bashlex():
    """The `bashlex` module, its parser imported with cached tables when possible."""
    if "bashlex.parser" in sys.modules:
        import bashlex

        return bashlex
    spec = importlib.util.find_spec("bashlex")
    if spec is None or spec.loader is None or not spec.submodule_search_locations:
        import bashlex  # not a package folder: import it the ordinary way

        return bashlex
    # bashlex/__init__.py imports its parser (which builds the tables) at once: set the package
    # up first, patch yacc, import the parser, then run __init__ (which finds it imported)
    package = importlib.util.module_from_spec(spec)
    sys.modules["bashlex"] = package
    built: list[dict] = []
    path = None
    try:
        from bashlex import yacc

        path = _cache_file()
        data = _read(path) if path is not None else None
        original = yacc.yacc

        def cached(*args, **kwargs):
            if data is not None:
                return _parser_from(data, yacc, yacc.get_caller_module_dict(2))
            parser = original(*args, module=sys.modules["bashlex.parser"], **kwargs)
            built.append(_snapshot(parser))
            return parser

        yacc.yacc = cached
        try:
            import bashlex.parser  # noqa: F401
        finally:
            yacc.yacc = original
        spec.loader.exec_module(package)
    except BaseException:
        for name in [n for n in sys.modules if n == "bashlex" or n.startswith("bashlex.")]:
            del sys.modules[name]
        raise
    if built and path is not None:
        _write(path, built[0])
    return package
