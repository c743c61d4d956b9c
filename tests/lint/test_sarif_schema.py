"""SARIF output validated with `jsonschema` against the SARIF 2.1.0 objects we emit
(tests/lint/sarif_schema.json: no registry package ships the OASIS schema file)."""

from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from recipegen.cli import main

SCHEMA = json.loads((Path(__file__).parent / "sarif_schema.json").read_text())
FIXTURES = Path(__file__).parent / "fixtures"
BAD_LOAD = "import torch\nx = torch.load('a.pt')\n"
HOSTILE_NAMES = ["a #b.py", "q?x.py", "100%.py", "sp ace.py", "caf\u00e9.py", "c:d.py", "[x].py"]


def validate(doc: dict) -> None:
    jsonschema.Draft7Validator(SCHEMA).validate(doc)


@pytest.fixture(scope="module")
def sarif_doc(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("sarif")
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    for fixture in ("flag_typo", "cosine_trap", "drifted_train"):
        shutil.copytree(FIXTURES / fixture, root / fixture)
    (root / "we ird#dir").mkdir()
    for name in HOSTILE_NAMES:
        (root / "we ird#dir" / name).write_text(BAD_LOAD)
    (root / "bad.py").write_bytes(b"x = '\xff'\n")  # SAE901
    old = os.getcwd()
    os.chdir(root)
    try:
        res = CliRunner().invoke(main, ["lint", "--output-format", "sarif", "."])
    finally:
        os.chdir(old)
    assert res.exit_code == 1, res.output
    return json.loads(res.output)


def test_sarif_output_validates_against_the_schema(sarif_doc):
    validate(sarif_doc)
    results = sarif_doc["runs"][0]["results"]
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert {
        "we%20ird%23dir/a%20%23b.py",
        "we%20ird%23dir/q%3Fx.py",
        "we%20ird%23dir/100%25.py",
        "we%20ird%23dir/sp%20ace.py",
        "we%20ird%23dir/caf%C3%A9.py",
        "we%20ird%23dir/c%3Ad.py",
        "we%20ird%23dir/%5Bx%5D.py",
        "bad.py",
    } <= uris
    assert {r["ruleId"] for r in results} >= {"SAE306", "SAE901"}
    assert len({r["ruleId"] for r in results}) >= 4  # the fixtures add launch rules


@pytest.mark.parametrize(
    "uri", ["a #b.py", "q?x.py", "100%.py", "sp ace.py", "caf\u00e9.py", "x%zz.py"]
)
def test_the_schema_rejects_unencoded_uris(sarif_doc, uri):
    doc = copy.deepcopy(sarif_doc)
    location = doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    location["artifactLocation"]["uri"] = uri
    with pytest.raises(jsonschema.ValidationError):
        validate(doc)


@pytest.mark.parametrize(
    "path,value",
    [
        (("version",), "2.0.0"),
        (("runs", 0, "results", 0, "level"), "fatal"),
        (("runs", 0, "results", 0, "locations", 0, "physicalLocation", "region", "startLine"), 0),
        (("runs", 0, "results", 0, "messages"), {"text": "typo"}),
    ],
)
def test_the_schema_rejects_other_deviations(sarif_doc, path, value):
    doc = copy.deepcopy(sarif_doc)
    node = doc
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        validate(doc)
