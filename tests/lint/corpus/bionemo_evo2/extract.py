"""Run Evo2 predict on each FASTA chunk, then stream the saved layer outputs into a store."""

import argparse
import glob
import os

import torch
import torch.distributed as dist
from bionemo.evo2.run.predict import predict
from helpers import rows_from_prediction
from sae.activation_store import ActivationStore

p = argparse.ArgumentParser()
p.add_argument("--fasta", required=True)
p.add_argument("--ckpt-dir", required=True)
p.add_argument("--work-dir", required=True)
p.add_argument("--output", required=True)
p.add_argument("--pattern", default="predictions__rank_*.pt", help="glob of predict's .pt files")
args = p.parse_args()

predict(
    fasta_path=args.fasta,
    ckpt_dir=args.ckpt_dir,
    output_dir=args.work_dir,
    output_layer="decoder.layers.26",
)
dist.barrier()

if int(os.environ.get("RANK", 0)) == 0:
    store = ActivationStore(args.output)
    for path in sorted(glob.glob(os.path.join(args.work_dir, args.pattern))):
        pred = torch.load(path, map_location="cpu", weights_only=True)
        store.append(rows_from_prediction(pred))
    store.finalize({"layer": 26})
