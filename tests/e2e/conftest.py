"""Fixtures for the end-to-end tests (helpers live in e2e_helpers.py)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from e2e_helpers import REPO, write_fasta, write_standin

pytest.importorskip("torch")
pytest.importorskip("transformers")


@pytest.fixture(scope="session")
def tiny_esm2(tmp_path_factory) -> Path:
    return write_standin("esm2", tmp_path_factory.mktemp("models") / "tiny_esm2")


@pytest.fixture(scope="session")
def protein_fasta() -> Path:
    return REPO / "recipegen" / "data" / "demo_proteins.fasta"


@pytest.fixture(scope="session")
def cds_fasta(tmp_path_factory) -> Path:
    rng = random.Random(0)
    records = [
        "ATG" + "".join(rng.choice("ACGT") for _ in range(3 * rng.randint(30, 90))) + "TAA"
        for _ in range(40)
    ]
    return write_fasta(tmp_path_factory.mktemp("inputs") / "cds.fasta", records)


@pytest.fixture(scope="session")
def dna_fasta(tmp_path_factory) -> Path:
    rng = random.Random(1)
    records = ["".join(rng.choice("ACGT") for _ in range(rng.randint(150, 600))) for _ in range(24)]
    return write_fasta(tmp_path_factory.mktemp("inputs") / "dna.fasta", records)
