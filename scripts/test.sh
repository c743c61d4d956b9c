#!/usr/bin/env bash
# The test command (README, CI): set-up, style, drift check, lint of our own recipes, test suite.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m slow` or `-k store`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
# Headless Chromium for the dashboard's browser test (tests/browser): Debian's packages, installed
# only when absent and only where apt-get can run as root; elsewhere that test skips.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  if command -v apt-get >/dev/null && [[ "$(id -u)" == 0 ]]; then
    echo "== apt-get install chromium chromium-driver (browser test)"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium chromium-driver
  else
    echo "== no chromium/chromedriver and no root apt-get: the browser test will skip"
  fi
fi
if command -v chromium >/dev/null; then
  echo "== browser: $(chromium --version 2>/dev/null) / $(chromedriver --version 2>/dev/null | cut -d' ' -f1-2)"
fi
# shellcheck disable=SC1091
source "${VENV:-.venv}/bin/activate"

echo "== ruff"
ruff check .
ruff format --check .
echo "== recipegen check recipes/*"
recipegen check recipes/*
echo "== recipegen lint recipes"
recipegen lint recipes
if [[ -f ../shared/reference/bionemo-sae/pyproject.toml ]]; then
  echo "== reference sae virtualenv (compatibility tests)"
  bash scripts/reference_venv.sh >/dev/null
fi
echo "== pytest"
python -m pytest "$@"
