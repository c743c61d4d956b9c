#!/usr/bin/env bash
set -euo pipefail
TRAIN=cache/train
EVAL=cache/eval
[[ -f "$TRAIN/metadata.json" ]] || python extract.py --input train.pt --output "$TRAIN"
if [[ ! -f "$EVAL/metadata.json" ]]; then
  python extract.py \
    --input eval.pt \
    --output "$EVAL"
fi
