"""`[tool.recipegen] sae-version` / `sae-features`: scripts pinned to an older `sae` are judged
against what that library offers; bad values are refused with the file and key named."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from recipegen.validators.config import ConfigError, load_config
from recipegen.validators.engine import lint_paths
from recipegen.validators.rules._helpers import WIRED_TRAIN
from recipegen.validators.sae_api import ALL_FEATURES

from recipegen.cli import main

OLD_TRAIN = WIRED_TRAIN.replace(
    '    p.add_argument("--mix-shards", type=int, default=1)\n', ""
).replace(
    '    p.add_argument("--dead-count-global", action=argparse.BooleanOptionalAction, '
    "default=False)\n",
    "",
)
LAUNCH = "torchrun --nproc_per_node 4 train.py --cache-dir c --dp-size 4\n"


def _recipe(d: Path, pyproject: str | None) -> Path:
    d.mkdir(parents=True)
    (d / "train.py").write_text(OLD_TRAIN)
    (d / "launch.sh").write_text(LAUNCH)
    if pyproject is not None:
        (d / "pyproject.toml").write_text(pyproject)
    return d


def _codes(root: Path) -> list[tuple[str, str]]:
    cfg = load_config(start=root)
    cfg.exclude = []
    return sorted((Path(f.path).parent.name, f.code) for f in lint_paths([root], cfg).findings)


def test_newest_library_by_default_and_pins_per_recipe(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    _recipe(tmp_path / "new", None)
    _recipe(tmp_path / "old", '[tool.recipegen]\nsae-version = "0.0.9"\n')
    _recipe(
        tmp_path / "feat", '[tool.recipegen]\nsae-features = ["normalize-input", "mix-shards"]\n'
    )
    got = _codes(tmp_path)
    # newest: both missing switches and the multi-process launch without dead-count-global
    assert got.count(("new", "SAE101")) == 2 and ("new", "SAE202") in got
    assert not [c for c in got if c[0] == "old"]
    assert got.count(("feat", "SAE101")) == 1  # only --mix-shards is asked for


@pytest.mark.parametrize(
    "body,fragment",
    [
        ('sae-version = "newest"', "sae-version"),
        ('sae-features = ["mix_shards"]', "unknown sae feature"),
        ('sae-features = "mix-shards"', "must be a list"),
        ('sae-version = "0.1.0"\nsae-features = []', "not both"),
    ],
)
def test_bad_target_is_refused_with_exit_2(tmp_path, monkeypatch, body, fragment):
    monkeypatch.chdir(tmp_path)
    _recipe(tmp_path / "r", f"[tool.recipegen]\n{body}\n")
    with pytest.raises(ConfigError, match=fragment):
        load_config(start=tmp_path / "r")
    res = CliRunner().invoke(main, ["lint", "r"])
    assert res.exit_code == 2 and fragment in res.output and "Traceback" not in res.output


def test_default_config_targets_every_feature(tmp_path):
    assert load_config(start=tmp_path).sae_features == ALL_FEATURES
