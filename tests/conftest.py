"""Fixtures shared by every test area, and the markers each folder's tests carry.

Markers (registered in pyproject.toml) are applied here, by folder and by fixture, so a new test
in one of these folders is marked without anyone remembering to:

- tests/e2e/ -> `e2e`; tests/compat/ -> `compat`; tests/browser/ -> `browser`;
  tests/science/ -> `science`;
- any test using the reference virtualenv (`reference_python`) -> `compat`.

`bash scripts/test.sh --quick` deselects all of these; the full run (CI) deselects only `slow`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
TESTS = REPO_ROOT / "tests"
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
REFERENCE = REPO_ROOT.parent / "shared" / "reference" / "bionemo-sae"

FOLDER_MARKERS = {"e2e": "e2e", "compat": "compat", "browser": "browser", "science": "science"}
# fixtures that build or run the reference library's own virtualenv (minutes on a first run)
COMPAT_FIXTURES = {"reference_python", "ref_python"}
# the markers the quick path leaves out (scripts/test.sh --quick)
QUICK_DESELECT = ("slow", "e2e", "compat", "browser", "science")


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects anything
def pytest_collection_modifyitems(config, items):
    for item in items:
        try:
            folder = Path(item.path).resolve().relative_to(TESTS).parts[0]
        except ValueError:  # a test file outside tests/
            continue
        marker = FOLDER_MARKERS.get(folder)
        if marker:
            item.add_marker(marker)
        if COMPAT_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker("compat")
    # Files with long (e2e/compat) tests first: with parallel workers taking a file at a time, a
    # long file at the end would run alone. A stable sort by file keeps each file's order.
    long_files = {
        item.path
        for item in items
        if item.get_closest_marker("e2e") or item.get_closest_marker("compat")
    }
    items.sort(key=lambda item: item.path not in long_files)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data` (real public sequence sets); skips cleanly when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} not present (fresh clone without ../shared)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """The reference `sae` library (`../shared/reference/bionemo-sae`); skips when absent."""
    if not (REFERENCE / "pyproject.toml").is_file():
        pytest.skip(f"no reference library at {REFERENCE} (fresh clone without ../shared)")
    return REFERENCE


@pytest.fixture(scope="session")
def reference_python(reference_dir) -> Path:
    """The reference virtualenv's python, built once (scripts/reference_venv.sh, which caches it
    and holds a lock, so parallel workers wait for one build); a failed build fails the test."""
    proc = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "reference_venv.sh"), str(reference_dir)],
        capture_output=True,
        text=True,
        timeout=3600,
        cwd=REPO_ROOT,
    )
    assert proc.returncode == 0, f"reference_venv.sh failed:\n{proc.stderr[-4000:]}"
    python = Path(proc.stdout.strip().splitlines()[-1])
    return python if python.is_absolute() else REPO_ROOT / python
