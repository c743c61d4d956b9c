#!/usr/bin/env bash
# The test command (README, CI): set-up, style, drift check, lint of our own recipes, test suite.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m slow` or `-k store`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
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
