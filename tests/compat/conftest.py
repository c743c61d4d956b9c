"""Compatibility tests against the reference `sae` library, installed in its own virtualenv.

They skip when the reference checkout is absent; when it is present, `scripts/reference_venv.sh`
builds (or reuses) the virtualenv, and a failed build fails the tests.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO.parent / "shared" / "reference" / "bionemo-sae"

sys.path.insert(0, str(REPO / "tests" / "e2e"))  # e2e_helpers, for the fixtures below
# the e2e fixtures (tiny ESM2 checkpoint, FASTA inputs), loaded under a distinct module name
_spec = importlib.util.spec_from_file_location("e2e_fixtures", REPO / "tests/e2e/conftest.py")
_e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_e2e)
tiny_esm2, protein_fasta, cds_fasta, dna_fasta = (
    _e2e.tiny_esm2,
    _e2e.protein_fasta,
    _e2e.cds_fasta,
    _e2e.dna_fasta,
)


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    if not (REFERENCE / "pyproject.toml").is_file():
        pytest.skip(f"no reference library at {REFERENCE}")
    return REFERENCE


@pytest.fixture(scope="session")
def reference_python(reference_dir) -> Path:
    """The reference virtualenv's python (built once, cached by scripts/reference_venv.sh)."""
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "reference_venv.sh"), str(reference_dir)],
        capture_output=True,
        text=True,
        timeout=3600,
        cwd=REPO,
    )
    assert proc.returncode == 0, f"reference_venv.sh failed:\n{proc.stderr[-4000:]}"
    python = Path(proc.stdout.strip().splitlines()[-1])
    return python if python.is_absolute() else REPO / python
