"""scripts/setup.sh says what it installs and how big, and shows progress while pip works."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
SETUP = SCRIPTS / "setup.sh"

# A stand-in for `python -m pip install`: pip's usual lines, with silent stretches in between.
FAKE_PIP = """#!/usr/bin/env bash
echo "Collecting torch==2.13.0"
echo "  Downloading torch-2.13.0+cpu-cp311-linux_x86_64.whl (200.1 MB)"
sleep "${FAKE_SLEEP:-2.5}"
printf 'progress noise\\r'
echo "Installing collected packages: torch"
echo "  Attempting uninstall: nothing"
sleep "${FAKE_SLEEP:-2.5}"
echo "Successfully installed torch-2.13.0"
exit "${FAKE_RC:-0}"
"""


def _run_pip_install(tmp_path: Path, rc: int = 0) -> subprocess.CompletedProcess:
    fake = tmp_path / "fake-python"
    fake.write_text(FAKE_PIP)
    fake.chmod(0o755)
    script = (
        "set -euo pipefail; PIP_FLAGS=(--progress-bar on); "
        f'source "{SCRIPTS / "pip_progress.sh"}"; pip_install torch; echo "after: $?"'
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "PY": str(fake),
        "PIP_LOG": str(tmp_path / "pip.log"),
        "PROGRESS_EVERY": "1",
        "FAKE_RC": str(rc),
        "FAKE_SLEEP": "2.5" if rc == 0 else "0",
    }
    return subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, env=env, timeout=60
    )


def test_every_install_is_announced_with_a_size():
    lines = SETUP.read_text().splitlines()
    installs = [i for i, line in enumerate(lines) if re.match(r"\s*pip_install ", line)]
    assert len(installs) >= 3
    for i in installs:
        announced = [line for line in lines[max(0, i - 3) : i] if line.lstrip().startswith("say")]
        assert announced, f"no progress message before: {lines[i]}"
    assert "pip install" not in SETUP.read_text().replace("# ", "")  # all through pip_install
    sizes = re.findall(r"~\d+ MB", SETUP.read_text())
    assert len(sizes) >= 3  # torch download/installed, the rest


def test_pip_shows_a_line_per_package_and_a_heartbeat(tmp_path):
    proc = _run_pip_install(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "after: 0"
    shown = proc.stderr.splitlines()
    assert shown[:2] == [
        "setup:   Collecting torch==2.13.0",
        "setup:   Downloading torch-2.13.0+cpu-cp311-linux_x86_64.whl (200.1 MB)",
    ]
    assert "setup:   Installing collected packages: torch" in shown  # the \r noise is stripped
    assert shown[-1] == "setup:   Successfully installed torch-2.13.0"
    # both silent stretches are covered by a heartbeat
    beats = [i for i, line in enumerate(shown) if "pip still working" in line]
    install = shown.index("setup:   Installing collected packages: torch")
    assert any(i < install for i in beats) and any(i > install for i in beats), shown
    assert not any("Attempting uninstall" in line for line in shown)  # the rest: only in the log
    log = (tmp_path / "pip.log").read_text()
    assert "Attempting uninstall: nothing" in log and "Successfully installed" in log


def test_a_pip_failure_stops_setup_with_its_status_and_log(tmp_path):
    proc = _run_pip_install(tmp_path, rc=3)
    assert proc.returncode == 3
    assert "after:" not in proc.stdout  # set -e stopped the script
    assert "pip failed (exit 3)" in proc.stderr
    assert "Attempting uninstall: nothing" in proc.stderr  # the log's tail is shown


def test_quiet_only_on_request():
    text = SETUP.read_text()
    assert "PIP_FLAGS=(--progress-bar on)" in text and "SETUP_QUIET:-0" in text
