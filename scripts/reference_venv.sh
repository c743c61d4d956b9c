#!/usr/bin/env bash
# A second virtualenv with the reference `sae` library (bionemo-framework's shared sae), for
# compatibility tests: its own test-suite against our runtime, our recipes and files on its runtime.
# Usage: bash scripts/reference_venv.sh [REFERENCE_DIR]   (default ../shared/reference/bionemo-sae)
# Prints the venv's python path on its last line. Idempotent; VENV_REF overrides the location.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

REF="${1:-../shared/reference/bionemo-sae}"
VENV_REF="${VENV_REF:-.venv-ref}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"
if [[ ! -f "$REF/pyproject.toml" ]]; then
  echo "reference_venv: no reference library at $REF (expected its pyproject.toml)" >&2
  exit 2
fi
# One build at a time (parallel test workers, two shells): the others wait here, then reuse it.
mkdir -p "$VENV_REF"
exec 9>"$VENV_REF/.build-lock"
flock 9
stamp="$VENV_REF/.reference-setup"
want="$(find "$REF/src" "$REF/pyproject.toml" -type f -name '*.py' -o -name pyproject.toml | LC_ALL=C sort | xargs cat | sha256sum | cut -d' ' -f1) $TORCH_SPEC"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "$VENV_REF/bin/python"
  exit 0
fi
echo "== reference venv: $VENV_REF (torch CPU, the reference sae from $REF, transformers, pytest; ~1.5 GB)" >&2
[[ -x "$VENV_REF/bin/python" ]] || python3 -m venv "$VENV_REF"
PY="$VENV_REF/bin/python"
"$PY" -m pip install --upgrade pip >&2
"$PY" -c "import torch" 2>/dev/null || "$PY" -m pip install "$TORCH_SPEC" >&2
# The reference folder may be read-only (CI): build from a private copy.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp -r "$REF/." "$tmp/src-copy"
chmod -R u+w "$tmp/src-copy"
"$PY" -m pip install "$tmp/src-copy" "transformers>=4.40" pytest matplotlib >&2
printf '%s' "$want" >"$stamp"
echo "$PY"
