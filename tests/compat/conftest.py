"""Compatibility tests against the reference `sae` library, installed in its own virtualenv.

They skip when the reference checkout is absent; when it is present, `scripts/reference_venv.sh`
builds (or reuses) the virtualenv, and a failed build fails the tests (the `reference_dir` and
`reference_python` fixtures live in tests/conftest.py; every test here is marked `compat`).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

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
