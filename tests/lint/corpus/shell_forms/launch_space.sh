#!/usr/bin/env bash
set -eu
CACHE=/data/cache
torchrun --nproc_per_node 4 train.py --cache-dir $CACHE --dp-size 2 --dead-count-global
