#!/bin/bash
set -e
CKPT=ckpt/evo2_1b_base
OUT=/scratch/evo2_l26

huggingface-cli download arcinstitute/evo2_1b_base --local-dir "$CKPT"

if [ ! -f "$OUT/metadata.json" ]; then
  torchrun --nproc_per_node 8 extract.py --fasta genomes.fa --ckpt-dir "$CKPT" \
    --work-dir /scratch/pred --output "$OUT"
fi

torchrun --nproc_per_node 8 train.py --cache-dir "$OUT" --dp-size 8 \
  --normalize-input --presample-shards 8 --init-pre-bias
