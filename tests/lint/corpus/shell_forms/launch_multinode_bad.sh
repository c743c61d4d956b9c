#!/usr/bin/env bash
set -euo pipefail
NNODES="${NNODES:-2}"
NPROC="${NPROC:-8}"
torchrun --nnodes="$NNODES" --nproc_per_node="$NPROC" --rdzv-backend=c10d \
  --rdzv-endpoint="$MASTER_ADDR:29500" train.py --cache-dir /data/cache \
  --dp-size "$NPROC" --dead-count-global
