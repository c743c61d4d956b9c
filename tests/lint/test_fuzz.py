"""Hostile input never crashes the linter; every unparsable file is SAE901 (issue 7 part 3)."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from recipegen.validators.engine import lint_sources

from recipegen.cli import main

from .fuzz_inputs import check, generate, python_unparsable, seeds

SEEDS = seeds()


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    idx=st.integers(min_value=0, max_value=len(SEEDS) - 1),
    cut=st.floats(min_value=0, max_value=1),
    junk=st.binary(max_size=40),
    crlf=st.booleans(),
)
def test_hypothesis_truncation_and_junk(idx, cut, junk, crlf):
    kind, data = SEEDS[idx]
    data = data[: int(len(data) * cut)] + junk
    if crlf:
        data = data.replace(b"\n", b"\r\n")
    assert check(kind, data) is None


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=300), kind=st.sampled_from(["python", "shell"]))
def test_hypothesis_arbitrary_text(text, kind):
    assert check(kind, text.encode("utf-8", "surrogatepass")) is None


def test_mutation_campaign_ci_size():
    problems = [(i, p) for i, (k, d) in enumerate(generate(300, seed=7)) if (p := check(k, d))]
    assert problems == []


def test_huge_and_deep_files():
    big = b"import torch\n" + b"x = torch.load('a.pt', weights_only=True)\n" * 8_000
    assert check("python", big) is None
    (over_cap,) = lint_sources({"train.py": b"#" * 6_000_000})  # not parsed: a finding
    assert over_cap.code == "SAE901" and "larger than" in over_cap.message
    assert check("python", b"x = " + b"(" * 5000 + b")" * 5000 + b"\n") is None
    assert check("shell", b"echo " + b'"$(' * 3000 + b"true" + b')"' * 3000 + b"\n") is None
    assert check("shell", b"python train.py \\\n" * 3_000) is None


def test_cli_batch_reports_each_unparsable_file(tmp_path):
    inputs = generate(120, seed=11)
    expected = set()
    for i, (kind, data) in enumerate(inputs):
        name = f"f{i:03d}.py" if kind == "python" else f"f{i:03d}.sh"
        (tmp_path / name).write_bytes(data)
        if kind == "python" and python_unparsable(data):
            expected.add(name)
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        res = CliRunner().invoke(main, ["lint", "--output-format", "json", "."])
    finally:
        os.chdir(old)
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert res.exit_code in (0, 1)
    reported = {f["filename"] for f in json.loads(res.output) if f["code"] == "SAE901"}
    assert expected <= reported
    assert all(n.endswith(".sh") for n in reported - expected)


@pytest.mark.slow
def test_mutation_campaign_full():
    """>= 10,000 inputs (also: `python tests/lint/fuzz_inputs.py 10000`)."""
    problems = [(i, p) for i, (k, d) in enumerate(generate(10_000, seed=1)) if (p := check(k, d))]
    assert problems == []
