#!/usr/bin/env bash
set -euo pipefail
torchrun --nproc_per_node 2 train.py --cache-dir cache --dp-size 2 --mix-shards 4
