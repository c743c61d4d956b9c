"""Import bashlex with its LALR tables built once and cached, not rebuilt by every process.

bashlex's bundled yacc builds the parse tables of its bash grammar at import (about 0.2 s, most
of a lint run's start-up). The first import builds them as usual and stores them
(`$XDG_CACHE_HOME/recipegen/`, default `~/.cache/recipegen/`); later imports hand bashlex the
stored tables instead. The cache is never trusted as code (JSON, not pickle) and is used only
when every check passes:

- its name and header carry a key: a hash of bashlex's grammar and parser-generator sources,
  its version and the Python version (another bashlex or grammar never reads this file);
- the header holds the SHA-256 of the tables, checked against the bytes read (a truncated,
  edited or mixed-up file is refused);
- the tables are checked against the grammar bashlex's parser module declares: the productions
  must be exactly its rules in order, every shift/goto must name an existing state, every
  reduce an existing production, every action a declared token and every goto a nonterminal;
  every state must be entered on one symbol only, and a state that reduces by `A -> ... X` on X
  (an LR automaton's invariants: an edited transition breaks them);
- the file is read only when it is a regular file (a symlink is never followed) of bounded size.

Anything else (no cache folder, a read-only home, a corrupt or foreign file) means the tables
are built again and the file is replaced atomically (written to a temporary file in the same
folder, then renamed over it).
"""

from __future__ import annotations

import importlib.util
import os
import stat
import sys
from pathlib import Path

from recipegen.safe_read import FileRefused, read_regular

_FORMAT = 2
_MAX_BYTES = 5_000_000
_KEYED = ("parser.py", "yacc.py", "tokenizer.py", "flags.py")  # what the tables derive from
# where the tables of the last import_bashlex() came from: "cache", "built" or "" (not patched)
SOURCE = ""


def _sha256(data: bytes = b""):
    """SHA-256 from the interpreter's built-in module (hashlib loads OpenSSL: a few ms)."""
    try:
        from _sha2 import sha256  # Python >= 3.12
    except ImportError:
        try:
            from _sha256 import sha256  # Python 3.11
        except ImportError:
            from hashlib import sha256
    return sha256(data)


class _Production:
    """What bashlex's LR parser reads of a grammar production."""

    __slots__ = ("name", "len", "str", "func", "callable")

    def __init__(self, name: str, length: int, text: str, func: str | None) -> None:
        self.name, self.len, self.str, self.func, self.callable = name, length, text, func, None

    def bind(self, pdict: dict) -> None:
        if self.func:
            self.callable = pdict[self.func]


def _bashlex_version(pkg: Path) -> str:
    """The installed distribution's version from its .dist-info folder name ("" if none)."""
    try:
        with os.scandir(pkg.parent) as entries:
            for e in entries:
                if e.name.startswith("bashlex-") and e.name.endswith(".dist-info"):
                    return e.name[len("bashlex-") : -len(".dist-info")]
    except OSError:
        pass
    return ""


def _cache_key() -> tuple[Path, str] | None:
    """(cache file, key): the key hashes the grammar and the parser generator's sources (the
    files the tables depend on), bashlex's version, this module's format and Python's version."""
    spec = importlib.util.find_spec("bashlex")
    if spec is None or not spec.submodule_search_locations:
        return None
    pkg = Path(next(iter(spec.submodule_search_locations)))
    digest = _sha256()
    try:
        for name in _KEYED:
            digest.update(name.encode() + b"\0" + (pkg / name).read_bytes() + b"\0")
    except OSError:
        return None
    digest.update(f"{_FORMAT} {sys.version_info[:2]} {_bashlex_version(pkg)}".encode())
    key = digest.hexdigest()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "recipegen" / f"bashlex-tables-{key[:20]}.json", key


def _shape_ok(data: object) -> bool:
    if not isinstance(data, dict):
        return False
    action, goto, prods = data.get("action"), data.get("goto"), data.get("productions")
    return (
        isinstance(action, list)
        and isinstance(goto, list)
        and isinstance(prods, list)
        and len(action) == len(goto)
        and all(type(row) is dict for row in action + goto)  # noqa: E721
        and all(
            isinstance(p, list)
            and len(p) == 4
            and isinstance(p[0], str)
            and isinstance(p[1], int)
            and isinstance(p[2], str)
            and (p[3] is None or isinstance(p[3], str))
            for p in prods
        )
    )


def _read(path: Path, key: str) -> dict | None:
    """The cached tables when the file is a regular file whose header carries `key` and whose
    body matches the header's SHA-256 and has the right shape; None otherwise."""
    try:
        parent = os.lstat(path.parent)
        if not stat.S_ISDIR(parent.st_mode):
            return None  # the recipegen cache folder itself must not be a symlink
        raw = read_regular(path, _MAX_BYTES)
    except (FileRefused, OSError):
        return None
    head, sep, body = raw.partition(b"\n")
    if not sep:
        return None
    import json

    try:
        header = json.loads(head)
        if (
            not isinstance(header, dict)
            or header.get("format") != _FORMAT
            or header.get("key") != key
            or header.get("sha256") != _sha256(body).hexdigest()
        ):
            return None
        data = json.loads(body)
    except ValueError:
        return None
    return data if _shape_ok(data) else None


def _grammar(pdict: dict, yacc) -> list[list] | None:
    """The productions yacc would number for the parser module `pdict` ([name, len, str, func],
    production 0 being S' -> start), read from its p_ functions the way yacc reads them."""
    funcs = []
    for name, item in pdict.items():
        if name.startswith("p_") and name != "p_error" and callable(item):
            code = getattr(item, "__code__", None)
            if code is None or not item.__doc__:
                return None
            funcs.append((code.co_firstlineno, name, item.__doc__))
    funcs.sort()
    rules: list[list] = []
    for line, fname, doc in funcs:
        try:
            parsed = yacc.parse_grammar(doc, "", line)
        except SyntaxError:
            return None
        for _file, _line, prodname, syms in parsed:
            syms = list(syms)
            if "%prec" in syms:
                syms = syms[: syms.index("%prec")]
            text = f"{prodname} -> {' '.join(syms)}" if syms else f"{prodname} -> <empty>"
            rules.append([prodname, len(syms), text, fname])
    if not rules:
        return None
    start = pdict.get("start") or rules[0][0]
    return [["S'", 1, f"S' -> {start}", None], *rules]


def _consistent(data: dict, pdict: dict, yacc) -> bool:
    """The tables fit the grammar `pdict` declares (see the module docstring)."""
    prods = data["productions"]
    if _grammar(pdict, yacc) != prods:
        return False
    nstates, nprods = len(data["action"]), len(prods)
    nonterminals = {p[0] for p in prods}
    tokens = pdict.get("tokens")
    if not isinstance(tokens, (list, tuple)):
        return False
    terminals = {*tokens, "$end", "error"}
    # In an LR automaton every edge into a state is on the same symbol (the state's accessing
    # symbol), and a state that reduces by A -> ... X is entered on X.
    accessing: dict[int, str] = {}
    reduces: list[tuple[int, int]] = []
    for state, row in enumerate(data["action"]):
        for tok, v in row.items():
            if type(v) is not int or tok not in terminals or not -nprods < v < nstates:  # noqa: E721
                return False
            if v > 0 and accessing.setdefault(v, tok) != tok:
                return False
            if v < 0:
                reduces.append((state, -v))
            if v == 0 and tok != "$end":
                return False
    for row in data["goto"]:
        for sym, v in row.items():
            if type(v) is not int or sym not in nonterminals or not 0 < v < nstates:  # noqa: E721
                return False
            if accessing.setdefault(v, sym) != sym:
                return False
    if 0 in accessing:
        return False  # the start state is entered on nothing
    for state, prod in reduces:
        length, text = prods[prod][1], prods[prod][2]
        if length and accessing.get(state) != text.rsplit(" ", 1)[-1]:
            return False
    return nstates > 0


def _snapshot(parser) -> dict:
    """The tables as yacc built them (copies: bashlex patches a few states after import)."""
    return {
        "action": [dict(parser.action[s]) for s in range(len(parser.action))],
        "goto": [dict(parser.goto.get(s, {})) for s in range(len(parser.action))],
        "productions": [[p.name, p.len, p.str, p.func] for p in parser.productions],
    }


def _write(path: Path, key: str, data: dict) -> None:
    """Store the tables atomically: a private temporary file in the cache folder, flushed, then
    renamed over `path` (a symlink there is replaced, never written through)."""
    tmp = None
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not stat.S_ISDIR(os.lstat(path.parent).st_mode):
            return
        import json
        import tempfile

        body = json.dumps(data, separators=(",", ":")).encode()
        header = {"format": _FORMAT, "key": key, "sha256": _sha256(body).hexdigest()}
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".bashlex-", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(json.dumps(header).encode() + b"\n" + body)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError:
        pass
    finally:
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
    global SOURCE
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
    where = None
    try:
        from bashlex import yacc

        where = _cache_key()
        data = _read(*where) if where is not None else None
        original = yacc.yacc

        def cached(*args, **kwargs):
            global SOURCE
            pdict = yacc.get_caller_module_dict(2)
            if data is not None and _consistent(data, pdict, yacc):
                SOURCE = "cache"
                return _parser_from(data, yacc, pdict)
            SOURCE = "built"
            parser = original(*args, module=sys.modules["bashlex.parser"], **kwargs)
            snap = _snapshot(parser)
            if _shape_ok(snap) and _consistent(snap, pdict, yacc):
                built.append(snap)  # only tables this module can check again are stored
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
    if built and where is not None:
        _write(where[0], where[1], built[0])
    return package
