"""The main job: `recipegen demo` renders the esm2 recipe and runs its smoke pipeline."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner
from e2e_helpers import check_artifacts, run_env

from recipegen import demo as demo_module

pytestmark = pytest.mark.e2e


def test_recipegen_demo_runs_the_main_job(tmp_path):
    env = run_env()
    proc = subprocess.run(
        [sys.executable, "-c", "from recipegen.cli import main; main()", "demo",
         "--workdir", str(tmp_path), "--keep"],
        env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = proc.stdout
    for needle in ("tokens extracted", "FVU", "dead latents", "L0", "loss recovered",
                   "probing AUROC", "report.json", "training_curves.png"):  # fmt: skip
        assert needle in out, needle
    assert (tmp_path / "esm2_sae" / "recipe.yaml").is_file()
    report = check_artifacts(tmp_path / "work", expansion=4)
    assert report["probing"]["labels"] == "residue identity"
    assert report["tokens_extracted"]["train"] > 0
    assert (tmp_path / "tiny_esm2" / "config.json").is_file()  # --keep


def test_demo_names_what_to_install_when_the_runtime_is_missing(monkeypatch, tmp_path):
    monkeypatch.setattr(demo_module, "missing_runtime", lambda: ["torch", "sae"])
    result = CliRunner().invoke(demo_module.demo, ["--workdir", str(tmp_path)])
    assert result.exit_code != 0
    assert "torch, sae" in result.output and "scripts/setup.sh" in result.output
    assert not any(tmp_path.iterdir())
