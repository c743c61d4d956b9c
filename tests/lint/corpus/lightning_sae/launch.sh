#!/usr/bin/env bash
set -euo pipefail
NGPU=${NGPU:-4}
python train.py --data-dir /data/acts --devices "$NGPU" --max-epochs 20
torchrun --nproc_per_node "$NGPU" train.py --data-dir /data/acts --devices "$NGPU" --max-steps 50000
