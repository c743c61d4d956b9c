#!/usr/bin/env bash
# ESM2-650M layer 24: extract, then train on 4 GPUs.
set -euo pipefail

NPROC="${NPROC:-4}"
CACHE="${CACHE:-/data/esm2_l24}"
RUN_NAME="${RUN_NAME:-esm2_l24_k32}"

# extract.py skips itself when $CACHE/metadata.json exists
torchrun --nproc_per_node="$NPROC" extract.py --fasta uniref50_sample.fasta --output "$CACHE" --layer 24

unset WANDB_API_KEY
export WANDB_ENTITY=bionemo

torchrun --nproc_per_node="$NPROC" train.py \
    --cache-dir "$CACHE" \
    --dp-size "$NPROC" \
    --dead-count-global \
    --wandb \
    --wandb-run-name "$RUN_NAME"
