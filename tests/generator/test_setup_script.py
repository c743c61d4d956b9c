"""scripts/setup.sh says what it installs and how big, never a silent `pip -q` by default."""

from __future__ import annotations

import re
from pathlib import Path

SETUP = Path(__file__).resolve().parents[2] / "scripts" / "setup.sh"


def test_every_install_is_announced_with_a_size():
    lines = SETUP.read_text().splitlines()
    installs = [i for i, line in enumerate(lines) if "pip install" in line]
    assert len(installs) >= 3
    for i in installs:
        assert " -q " not in lines[i] and '"${PIP_FLAGS[@]}"' in lines[i], lines[i]
        announced = [line for line in lines[max(0, i - 3) : i] if line.lstrip().startswith("say")]
        assert announced, f"no progress message before: {lines[i]}"
    sizes = re.findall(r"~\d+ MB", SETUP.read_text())
    assert len(sizes) >= 3  # torch download/installed, the rest


def test_quiet_only_on_request():
    text = SETUP.read_text()
    assert "PIP_FLAGS=(--progress-bar on)" in text and "SETUP_QUIET:-0" in text
