"""bashlex's parse tables are built once and cached as JSON: a process that reads the cache
parses exactly like one that builds the tables, and a bad cache file only means a rebuild."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "corpus"
_CHILD = """
import json, sys
from pathlib import Path
from recipegen.validators.bashlex_tables import import_bashlex
b = import_bashlex()
out = []
for p in sorted(Path(sys.argv[1]).rglob("*.sh")):
    for line in p.read_text().splitlines():
        try:
            out.append([t.dump() for t in b.parse(line)] if line.strip() else None)
        except Exception as exc:
            out.append(type(exc).__name__)
print(json.dumps(out))
"""


def _run(cache: Path) -> list:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(CORPUS)], env=env, capture_output=True, check=True
    )
    return json.loads(proc.stdout)


def test_cached_tables_parse_like_freshly_built_ones(tmp_path):
    built = _run(tmp_path)
    files = list((tmp_path / "recipegen").glob("bashlex-tables-*.json"))
    assert len(files) == 1, files
    assert json.loads(files[0].read_text())["format"] == 1
    cached = _run(tmp_path)
    assert cached == built
    assert sum(1 for x in built if isinstance(x, list)) > 50  # really parsed something


def test_a_corrupt_or_hostile_cache_is_rebuilt(tmp_path):
    reference = _run(tmp_path)
    (cache,) = (tmp_path / "recipegen").glob("bashlex-tables-*.json")
    for junk in (
        "not json",
        '{"format": 1, "action": 1}',
        '{"format": 1, "action": [[1]]}',
        '{"format": 1, "action": [], "goto": [], "productions": [["a", 1, "a", "os"]]}',
    ):
        cache.write_text(junk)
        assert _run(tmp_path) == reference
        assert json.loads(cache.read_text())["format"] == 1  # rewritten


def test_an_unwritable_cache_folder_still_parses(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert _run(tmp_path) == _run(blocker)  # XDG_CACHE_HOME is a file: nothing can be written
