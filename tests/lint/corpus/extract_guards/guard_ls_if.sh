#!/usr/bin/env bash
OUT=cache/train
if ! ls "$OUT"/*.pt > /dev/null 2>&1; then
  python extract.py --input batches.pt --output "$OUT"
fi
