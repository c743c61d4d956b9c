#!/usr/bin/env bash
set -euo pipefail
CACHE=cache/train
export WANDB_ENTITY=my-team
python train.py --cache-dir "$CACHE" --dead-count-global --wandb
python eval.py out/checkpoint_final.pt --eval-cache "$CACHE"
