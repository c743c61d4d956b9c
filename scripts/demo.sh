#!/usr/bin/env bash
# The main job: render the esm2 recipe and run its smoke pipeline end to end on CPU, on the
# embedded default (a small FASTA shipped in the package, a tiny randomly initialised ESM2).
# Extra arguments go to `recipegen demo` (see `recipegen demo --help`), e.g. `--model codonfm` or
# `--model evo2` for the other shipped specs (each with its own tiny offline stand-in).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
# shellcheck disable=SC1091
source "${VENV:-.venv}/bin/activate"
recipegen demo "$@"
