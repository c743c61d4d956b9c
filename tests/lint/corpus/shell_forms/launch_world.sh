#!/usr/bin/env bash
# Clusters without Slurm: NNODES/NODE_RANK/MASTER_ADDR from the environment.
set -euo pipefail
NNODES="${NNODES:-1}"
NODE_RANK="${NODE_RANK:-0}"
NPROC="${NPROC:-8}"
MASTER_ADDR="${MASTER_ADDR:-127.0.0.1}"
WORLD=$((NNODES * NPROC))
torchrun --nnodes "$NNODES" --node-rank "$NODE_RANK" --nproc_per_node "$NPROC" \
  --master-addr "$MASTER_ADDR" --master-port 29500 \
  train.py --cache-dir /data/cache --dp-size "$WORLD" --dead-count-global
