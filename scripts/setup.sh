#!/usr/bin/env bash
# Idempotent set-up: a virtualenv in .venv with the CPU build of torch, recipegen and the sae runtime.
# Re-running is cheap: the install step is skipped while the package definitions are unchanged.
# Every step says what it installs and roughly how big it is; while pip works it prints a line per
# package collected/downloaded/installed and a heartbeat at least every 10 s (scripts/pip_progress.sh;
# pip's full output goes to $VENV/pip.log; SETUP_VERBOSE=1 shows it unfiltered instead).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV="${VENV:-.venv}"
# The CPU wheel: an unpinned `torch` would pull a multi-GB CUDA build. Override for a GPU box,
# e.g. TORCH_SPEC='torch>=2.4'.
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"
# Quiet pip (no progress bars) only when asked: SETUP_QUIET=1.
PIP_FLAGS=(--progress-bar on)
if [[ "${SETUP_QUIET:-0}" == 1 ]]; then
  PIP_FLAGS=(-q)
fi

say() { printf 'setup: %s\n' "$*" >&2; }
# shellcheck source=scripts/pip_progress.sh
source scripts/pip_progress.sh

if [[ ! -x "$VENV/bin/python" ]]; then
  say "creating the virtualenv $VENV (python3 -m venv)"
  python3 -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP_LOG="$VENV/pip.log"

stamp="$VENV/.recipegen-setup"
want="$(cat pyproject.toml sae/pyproject.toml | sha256sum | cut -d' ' -f1) $TORCH_SPEC"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  say "$VENV is up to date (delete $stamp to reinstall)"
  exit 0
fi

say "1/3 upgrading pip (a few MB)"
pip_install --upgrade pip
if ! "$PY" -c "import torch" 2>/dev/null; then
  say "2/3 installing $TORCH_SPEC, CPU build (~200 MB download, ~750 MB installed; minutes on a slow link)"
  pip_install "$TORCH_SPEC"
else
  say "2/3 torch already installed: $("$PY" -c 'import torch; print(torch.__version__)')"
fi
say "3/3 installing recipegen (editable, with test tools) and the sae runtime with transformers," \
  "pyarrow, matplotlib and antiberty 0.1.3 (pretrained AntiBERTy weights; ~200 MB download, ~500 MB installed)"
pip_install -e ".[dev]" -e "./sae[hf,plot,antiberty]"
printf '%s' "$want" >"$stamp"
say "done: source $VENV/bin/activate"
