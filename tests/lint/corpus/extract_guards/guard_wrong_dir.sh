#!/usr/bin/env bash
TRAIN=cache/train
EVAL=cache/eval
[[ -f "$TRAIN/metadata.json" ]] || python extract.py --input eval.pt --output "$EVAL"
