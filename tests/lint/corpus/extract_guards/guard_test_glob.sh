#!/usr/bin/env bash
OUT=cache/train
[ -e "$OUT"/shard_00000.pt ] || python extract.py --input batches.pt --output "$OUT"
