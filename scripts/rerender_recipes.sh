#!/usr/bin/env bash
# Re-render recipes/ from scratch (after a template change or a merge): esm2 8M, codonfm 80M,
# evo2 (default 7B, or $EVO2_SIZE), antiberty 26M; then `recipegen check` them.
# Usage: scripts/rerender_recipes.sh [REPO]   (default: the repository this script is in)
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"
git rm -rq --cached recipes 2>/dev/null || true
rm -rf recipes/esm2_sae recipes/codonfm_sae recipes/evo2_sae recipes/antiberty_sae
for spec in "esm2 8M" "codonfm 80M" "evo2 ${EVO2_SIZE:-7B}" "antiberty 26M"; do
  set -- $spec
  .venv/bin/recipegen new "$1" ${2:+--size "$2"} --out recipes >/dev/null
done
git add recipes
.venv/bin/recipegen check recipes/*
