#!/usr/bin/env bash
OUT=cache/train
compgen -G "$OUT/*.pt" > /dev/null || python extract.py --input batches.pt --output "$OUT"
