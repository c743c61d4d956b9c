#!/usr/bin/env bash
# options written with '='
set -eu
torchrun --nproc_per_node=4 --master_port=29611 train.py --cache-dir=/data/cache \
  --dp-size=4 --dead-count-global --lr-schedule=cosine --max-steps=5000
