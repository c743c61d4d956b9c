"""Recipes rendered by `recipegen new` lint clean, and targeted edits to them are caught."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner
from recipegen.validators.config import LintConfig
from recipegen.validators.engine import lint_paths

from recipegen.cli import main

MODELS = ("esm2", "codonfm", "evo2")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """{model: recipe dir} for every shipped spec."""
    out = tmp_path_factory.mktemp("recipes")
    dirs = {}
    for model in MODELS:
        res = CliRunner().invoke(main, ["new", model, "--out", str(out)])
        assert res.exit_code == 0, res.output
        dirs[model] = out / f"{model}_sae"
    return dirs


def test_generated_recipes_lint_clean(rendered):
    for model, d in rendered.items():
        findings = lint_paths([d], LintConfig()).findings
        assert findings == [], (model, findings)


EDITS = [
    ('--dp-size "$((NNODES * NPROC / TENSOR_PARALLEL))"', "--dp-size 1", "SAE205"),
    ("unset WANDB_API_KEY", "true", "SAE206"),
    ('--top-k "$TOP_K"', '--topk "$TOP_K"', "SAE207"),
    # LR_SCHEDULE="${LR_SCHEDULE:-$D_LR_SCHEDULE}" with D_LR_SCHEDULE=cosine resolves to cosine
    (
        '--lr-schedule "$LR_SCHEDULE" \\\n',
        '--lr-schedule "$LR_SCHEDULE" --max-steps 1000 \\\n',
        "SAE201",
    ),
    (
        '--lr-schedule "$LR_SCHEDULE" \\\n',
        '--lr-schedule "$LR_SCHEDULE" --lr-decay-steps "$X" \\\n',
        "SAE201",
    ),
    # several nodes, but --dp-size is the per-node count
    ('--dp-size "$((NNODES * NPROC / TENSOR_PARALLEL))"', '--dp-size "$NPROC"', "SAE205"),
]


@pytest.mark.parametrize("old,new,code", EDITS, ids=[f"{e[2]}-{i}" for i, e in enumerate(EDITS)])
def test_edits_to_a_generated_launch_are_caught(rendered, tmp_path, old, new, code):
    src = next(iter(rendered.values()))
    dst = tmp_path / src.name
    shutil.copytree(src, dst)
    launch = dst / "launch.sh"
    text = launch.read_text()
    assert old in text, f"the template changed: update this edit ({old!r})"
    launch.write_text(text.replace(old, new))
    assert code in {f.code for f in lint_paths([dst], LintConfig()).findings}


def test_barrier_added_to_the_predict_extractor_is_caught(rendered, tmp_path):
    dst = tmp_path / "evo2_sae"
    shutil.copytree(rendered["evo2"], dst)
    extract = dst / "extract.py"
    extract.write_text(extract.read_text() + "\ntorch.distributed.barrier()\n")
    codes = [f.code for f in lint_paths([dst], LintConfig()).findings]
    assert codes == ["SAE303"]
