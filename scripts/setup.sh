#!/usr/bin/env bash
# Idempotent set-up: a virtualenv in .venv with the CPU build of torch, recipegen and the sae runtime.
# Re-running is cheap: the install step is skipped while the package definitions are unchanged.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV="${VENV:-.venv}"
# The CPU wheel: an unpinned `torch` would pull a multi-GB CUDA build. Override for a GPU box,
# e.g. TORCH_SPEC='torch>=2.4'.
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"

if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv "$VENV"
fi
PY="$VENV/bin/python"

stamp="$VENV/.recipegen-setup"
want="$(cat pyproject.toml sae/pyproject.toml | sha256sum | cut -d' ' -f1) $TORCH_SPEC"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi

"$PY" -m pip install -q --upgrade pip
if ! "$PY" -c "import torch" 2>/dev/null; then
  "$PY" -m pip install -q "$TORCH_SPEC"
fi
"$PY" -m pip install -q -e ".[dev]" -e "./sae[hf,plot]"
printf '%s' "$want" >"$stamp"
