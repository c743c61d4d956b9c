#!/usr/bin/env bash
# CodonFM SAE pipeline, single node. Knobs come from the environment.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

D_NPROC=2
D_LR_SCHEDULE=cosine
D_TOP_K=32

NPROC="${NPROC:-$D_NPROC}"
LR_SCHEDULE="${LR_SCHEDULE:-$D_LR_SCHEDULE}"
TOP_K="${TOP_K:-$D_TOP_K}"
CACHE="${CACHE:-$HERE/work/cache}"

python "$HERE/extract.py" --batches batches.pt --output "$CACHE"

torchrun --standalone --nproc_per_node "$NPROC" "$HERE/train.py" \
  --cache-dir "$CACHE" \
  --dp-size "$NPROC" \
  --dead-count-global \
  --top-k "$TOP_K" \
  --lr-schedule "$LR_SCHEDULE" \
  --max-steps 1000
