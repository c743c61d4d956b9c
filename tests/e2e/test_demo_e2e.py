"""`recipegen demo --model esm2|codonfm|evo2`: render a shipped recipe and run its smoke pipeline
offline on a tiny stand-in model."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner
from e2e_helpers import FIXTURES, check_artifacts, run_env

from recipegen import demo as demo_module

pytestmark = pytest.mark.e2e

LABELS = {"esm2": "residue identity", "codonfm": "codon identity", "evo2": "nucleotide identity"}


@pytest.mark.parametrize("model", ["esm2", "codonfm", "evo2"])
def test_recipegen_demo_runs_each_shipped_spec_offline(tmp_path, model):
    env = run_env()
    # only the product on the path: the shipped adapter / stand-in must resolve without fixtures
    env["PYTHONPATH"] = env["PYTHONPATH"].replace(str(FIXTURES), "")
    proc = subprocess.run(
        [sys.executable, "-c", "from recipegen.cli import main; main()", "demo",
         "--model", model, "--workdir", str(tmp_path), "--keep"],
        env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = proc.stdout
    for needle in ("tokens extracted", "FVU", "dead latents", "L0", "loss recovered",
                   "probing AUROC", "report.json", "training_curves.png"):  # fmt: skip
        assert needle in out, needle
    assert f"{model} SAE smoke done" in out
    assert (tmp_path / f"{model}_sae" / "recipe.yaml").is_file()
    report = check_artifacts(tmp_path / "work", expansion=4)
    assert report["probing"]["labels"] == LABELS[model]
    assert report["tokens_extracted"]["train"] > 0
    # --keep: esm2's stand-in model written by the demo (its input is the shipped FASTA); the
    # others' stand-in written by launch.sh --smoke itself, running the recipe's standin.py
    standin = tmp_path / "standin" if model == "esm2" else tmp_path / "work" / "standin"
    assert (standin / "input.fasta").is_file() and (standin / "model").is_dir()


def test_demo_names_what_to_install_when_the_runtime_is_missing(monkeypatch, tmp_path):
    monkeypatch.setattr(demo_module, "missing_runtime", lambda: ["torch", "sae"])
    result = CliRunner().invoke(demo_module.demo, ["--workdir", str(tmp_path)])
    assert result.exit_code != 0
    assert "torch, sae" in result.output and "scripts/setup.sh" in result.output
    assert not any(tmp_path.iterdir())
