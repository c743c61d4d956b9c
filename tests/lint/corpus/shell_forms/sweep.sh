#!/usr/bin/env bash
# top-k sweep, one GPU per run, all at once
for k in 16 32 64 128; do
  CUDA_VISIBLE_DEVICES=$((k / 16 - 1)) torchrun --nproc_per_node 1 train.py \
    --cache-dir /data/cache --dp-size 1 --top-k "$k" > "log_k$k.txt" 2>&1 &
done
wait
