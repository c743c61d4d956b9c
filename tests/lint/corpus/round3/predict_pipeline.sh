#!/bin/bash
# Evo2 pipeline from a public repo: the predict CLI runs behind launchers.
set -euo pipefail
WORK=${WORK:-work}
NPROC=${NPROC:-4}

# skip when a previous run left predictions (a crashed run leaves them too)
compgen -G "$WORK/preds/predictions__*.pt" >/dev/null || \
  torchrun --nproc_per_node "$NPROC" --no-python predict_evo2 \
    --fasta "$WORK/input.fa" --ckpt-dir ckpt --output-dir "$WORK/preds"

[[ -f "$WORK/cache/metadata.json" ]] || \
  timeout 6h nohup env CUDA_VISIBLE_DEVICES=0 python extract.py \
    --input "$WORK/input.fa" --output "$WORK/cache"

srun --ntasks-per-node 4 -l torchrun --nproc_per_node 4 --no-python predict_evo2 \
  --fasta "$WORK/held_out.fa.gz" --chunk-size 16384 --output-dir "$WORK/eval_preds"
