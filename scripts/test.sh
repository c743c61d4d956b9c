#!/usr/bin/env bash
# The test command (README, CI): set-up, style, drift check, lint of our own recipes, test suite.
#   bash scripts/test.sh            everything but the `slow` fuzz (what CI runs)
#   bash scripts/test.sh --quick    the same checks, pytest without slow/e2e/compat/browser/science
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m slow` or `--quick -k store`.
# pytest runs on PYTEST_WORKERS processes (pytest-xdist; default `auto`, one per core; 0 = none),
# a test file per worker at a time (--dist loadfile), so a file's fixtures are built once.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
QUICK=0
if [[ "${1:-}" == --quick ]]; then
  QUICK=1
  shift
fi
bash scripts/setup.sh
# Headless Chromium for the dashboard's browser test (tests/browser): Debian's packages, installed
# only when absent and only where apt-get can run as root; elsewhere that test skips.
if ((QUICK)); then
  : # the quick path runs no browser test
elif ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  if command -v apt-get >/dev/null && [[ "$(id -u)" == 0 ]]; then
    echo "== apt-get install chromium chromium-driver (browser test)"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium chromium-driver
  else
    echo "== no chromium/chromedriver and no root apt-get: the browser test will skip"
  fi
fi
if ((!QUICK)) && command -v chromium >/dev/null; then
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
# Built here, once, before any test worker could need it (the compat tests use it).
if ((!QUICK)) && [[ -f ../shared/reference/bionemo-sae/pyproject.toml ]]; then
  echo "== reference sae virtualenv (compatibility tests)"
  bash scripts/reference_venv.sh >/dev/null
fi
args=(--durations=15)
workers="${PYTEST_WORKERS:-auto}"
if [[ "$workers" != 0 ]]; then
  args+=(-n "$workers" --dist loadfile)
fi
if ((QUICK)); then
  args+=(-m "not slow and not e2e and not compat and not browser and not science")
fi
echo "== pytest ${args[*]} $*"
python -m pytest "${args[@]}" "$@"
