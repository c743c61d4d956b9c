"""Extract ESM2 layer activations into an ActivationStore (one store per rank)."""

import argparse
import os
import sys
from pathlib import Path

import torch
from sae.activation_store import ActivationStore, ActivationStoreConfig
from transformers import AutoModel, AutoTokenizer


def parse_args():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--fasta", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--layer", type=int, default=-1)
    p.add_argument("--model", default="facebook/esm2_t33_650M_UR50D")
    p.add_argument("--batch-size", type=int, default=8)
    return p.parse_args()


def read_fasta(path):
    seqs, cur = [], []
    with open(path) as fh:
        for line in fh:
            if line.startswith(">"):
                if cur:
                    seqs.append("".join(cur))
                cur = []
            else:
                cur.append(line.strip())
    if cur:
        seqs.append("".join(cur))
    return seqs


def main():
    args = parse_args()
    out = Path(args.output)
    if (out / "metadata.json").exists():
        print(f"{out} is complete; skipping extraction")
        sys.exit(0)
    rank = int(os.environ.get("RANK", 0))
    tok = AutoTokenizer.from_pretrained(args.model)
    model = AutoModel.from_pretrained(args.model, torch_dtype=torch.bfloat16).cuda().eval()
    store = ActivationStore(out / f"rank{rank}", ActivationStoreConfig(shard_size=100_000))
    seqs = read_fasta(args.fasta)
    with torch.no_grad():
        for i in range(0, len(seqs), args.batch_size):
            batch = tok(seqs[i : i + args.batch_size], return_tensors="pt", padding=True)
            batch = {k: v.cuda() for k, v in batch.items()}
            hidden = model(**batch, output_hidden_states=True).hidden_states[args.layer]
            mask = batch["attention_mask"].bool()
            mask[:, 0] = False
            store.append(hidden[mask].float().cpu())
    store.finalize({"model": args.model, "layer": args.layer})


if __name__ == "__main__":
    main()
