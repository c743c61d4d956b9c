"""bashlex's parse tables are built once and cached: a process that reads the cache parses
exactly like one that builds the tables, and a cache that is corrupt, foreign, edited (even
when it stays well-formed JSON with a matching content hash) or a symlink is never used: the
tables are built again and the file is replaced atomically."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from recipegen.validators import bashlex_tables

CORPUS = Path(__file__).resolve().parent / "corpus"
_CHILD = """
import json, sys
from pathlib import Path
from recipegen.validators import bashlex_tables
b = bashlex_tables.import_bashlex()
out = []
for p in sorted(Path(sys.argv[1]).rglob("*.sh")):
    for line in p.read_text().splitlines():
        try:
            out.append([t.dump() for t in b.parse(line)] if line.strip() else None)
        except Exception as exc:
            out.append(type(exc).__name__)
print(json.dumps({"source": bashlex_tables.SOURCE, "parsed": out}))
"""


def _run(cache: Path) -> tuple[str, list]:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(CORPUS)], env=env, capture_output=True, check=True
    )
    data = json.loads(proc.stdout)
    return data["source"], data["parsed"]


def _split(path: Path) -> tuple[dict, dict]:
    head, _, body = path.read_bytes().partition(b"\n")
    return json.loads(head), json.loads(body)


def _store(path: Path, header: dict, tables: dict, rehash: bool = True) -> None:
    """Write `tables` under `header`, with a matching content hash when `rehash`."""
    body = json.dumps(tables, separators=(",", ":")).encode()
    if rehash:
        header = {**header, "sha256": bashlex_tables._sha256(body).hexdigest()}
    path.write_bytes(json.dumps(header).encode() + b"\n" + body)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A cache folder after one run, that run's parses, and the cache file."""
    cache = tmp_path_factory.mktemp("cache")
    source, parsed = _run(cache)
    assert source == "built"
    (path,) = (cache / "recipegen").glob("bashlex-tables-*.json")
    return cache, parsed, path


def test_cached_tables_parse_like_freshly_built_ones(built):
    cache, parsed, path = built
    header, tables = _split(path)
    assert header["format"] == 2 and len(header["key"]) == 64
    assert path.name == f"bashlex-tables-{header['key'][:20]}.json"
    assert _run(cache) == ("cache", parsed)
    assert sum(1 for x in parsed if isinstance(x, list)) > 50  # really parsed something
    assert not list((cache / "recipegen").glob(".bashlex-*"))  # no temporary file left


def _edits(tables: dict, header: dict):
    """(name, header, tables, rehash): well-formed cache files that must not be used."""
    action = tables["action"]
    state = next(i for i, row in enumerate(action) if any(v > 0 for v in row.values()))
    tok = next(t for t, v in action[state].items() if v > 0)

    def changed(**parts):
        return {**json.loads(json.dumps(tables)), **parts}

    # retarget one shift to a state entered on another token
    elsewhere = next(v for row in action for t, v in row.items() if v > 0 and t != tok)
    other_shift = [dict(row) for row in action]
    other_shift[state][tok] = elsewhere
    yield "a shift target edited, hash left as it was", header, changed(action=other_shift), False
    yield "the same edit with a recomputed hash", header, changed(action=other_shift), True
    swapped = [dict(row) for row in action]
    swapped[state], swapped[state + 1] = swapped[state + 1], swapped[state]
    yield "two states swapped, hash left", header, changed(action=swapped), False
    far = [dict(row) for row in action]
    far[state][tok] = len(action) + 5
    yield "a shift to a state that does not exist", header, changed(action=far), True
    reduce_far = [dict(row) for row in action]
    reduce_far[state][tok] = -len(tables["productions"]) - 3
    yield "a reduce by a production that does not exist", header, changed(action=reduce_far), True
    unknown = [dict(row) for row in action]
    unknown[state]["NOT_A_TOKEN"] = 1
    yield "an action on an undeclared token", header, changed(action=unknown), True
    goto = [dict(row) for row in tables["goto"]]
    g = next(i for i, row in enumerate(goto) if row)
    goto[g]["not_a_rule"] = 1
    yield "a goto on an unknown nonterminal", header, changed(goto=goto), True
    prods = [list(p) for p in tables["productions"]]
    prods[3][1] += 1
    yield "a production length changed", header, changed(productions=prods), True
    prods = [list(p) for p in tables["productions"]]
    prods[2], prods[3] = prods[3], prods[2]
    yield "productions reordered", header, changed(productions=prods), True
    prods = [list(p) for p in tables["productions"]]
    prods[4][3] = "p_error"
    yield "a production bound to another function", header, changed(productions=prods), True
    yield "a cache of another bashlex or grammar", {**header, "key": "0" * 64}, tables, True
    yield "the previous cache format", {**header, "format": 1}, tables, True
    dropped = [dict(row) for row in tables["goto"]]
    g_state, g_sym = next((i, k) for i, row in enumerate(dropped) for k in row)
    dropped[g_state][g_sym] = next(
        v for row in action for t, v in row.items() if v > 0
    )  # a goto into a state entered on a token
    yield "a goto retargeted", header, changed(goto=dropped), True
    boolean = [dict(row) for row in action]
    boolean[state][tok] = True
    yield "a bool where a state belongs", header, changed(action=boolean), True


def test_a_well_formed_but_wrong_cache_is_rebuilt(built):
    cache, parsed, path = built
    header, tables = _split(path)
    good = path.read_bytes()
    for name, head, body, rehash in _edits(tables, header):
        _store(path, head, body, rehash)
        assert _run(cache) == ("built", parsed), name
        assert path.read_bytes() == good, name  # rebuilt and rewritten
        assert _run(cache)[0] == "cache", name


def test_a_corrupt_or_hostile_cache_is_rebuilt(built):
    cache, parsed, path = built
    good = path.read_bytes()
    for junk in (
        b"not json",
        b"",
        good[: len(good) // 2],  # truncated
        b'{"format": 2}\n{"action": 1}',
        b'{"format": 1, "action": [], "goto": [], "productions": [["a", 1, "a", "os"]]}',
        good.replace(b'"p_', b'"q_', 1),
    ):
        path.write_bytes(junk)
        assert _run(cache) == ("built", parsed), junk[:40]
        assert path.read_bytes() == good


def test_a_symlinked_cache_file_is_not_followed(built, tmp_path):
    cache, parsed, path = built
    good = path.read_bytes()
    elsewhere = tmp_path / "planted.json"
    elsewhere.write_bytes(good)  # valid tables: still not read through a link
    path.unlink()
    path.symlink_to(elsewhere)
    try:
        assert _run(cache) == ("built", parsed)
        assert not path.is_symlink() and path.read_bytes() == good  # replaced, not written through
        assert elsewhere.read_bytes() == good
    finally:
        if path.is_symlink():
            path.unlink()
            path.write_bytes(good)


def test_a_symlinked_cache_folder_is_not_used(built, tmp_path):
    _cache, parsed, path = built
    real = tmp_path / "real"
    real.mkdir()
    (real / path.name).write_bytes(path.read_bytes())
    home = tmp_path / "home"
    home.mkdir()
    (home / "recipegen").symlink_to(real)
    assert _run(home) == ("built", parsed)
    assert _run(home)[0] == "built"  # never read through the link


def test_an_unwritable_cache_folder_still_parses(tmp_path, built):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert _run(blocker) == ("built", built[1])  # XDG_CACHE_HOME is a file: nothing written
