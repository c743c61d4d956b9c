#!/usr/bin/env bash
# dcg ablation: 4 GPUs
torchrun --nproc_per_node 4 train.py --cache-dir cache/train --dp-size 4 --mix-shards 4 \
  --presample-shards 8
