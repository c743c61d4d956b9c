#!/bin/sh
# one-GPU run: extract then train
set -e
OUT=acts/esm2_l12
python extract.py --seqs seqs.txt --out-dir $OUT --layer 12
python train_loop.py
