#!/bin/bash
set -euo pipefail
GPUS=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --gpus) GPUS="$2"; shift 2 ;;
    *) echo "usage"; exit 1 ;;
  esac
done
OUT=results/esm2_650m
run_extract() {
  local out="$1"
  if [[ -f "$out/metadata.json" ]]; then
    echo "cached"
    return 0
  fi
  python extract.py --input all.pt --output "$out"
}
run_extract "$OUT/cache"
for split in train eval; do
  out="$OUT/$split"
  [[ -f "$out/metadata.json" ]] && continue
  python extract.py --input "$split.pt" --output "$out"
done
python extract.py --input x.pt --output "$OUT/x"
ARGS=(--cache-dir "$OUT/cache" --top-k 32)
if [[ "$GPUS" -gt 1 ]]; then
  ARGS+=(--dead-count-global)
fi
torchrun --nproc_per_node="$GPUS" train.py --dp-size="$GPUS" "${ARGS[@]}"
