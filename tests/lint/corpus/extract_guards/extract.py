"""Extract activations (no completion check of its own)."""

import argparse

import torch
from sae.activation_store import ActivationStore

p = argparse.ArgumentParser()
p.add_argument("--output", required=True)
p.add_argument("--input", required=True)
args = p.parse_args()

store = ActivationStore(args.output)
for hidden, mask in torch.load(args.input, weights_only=True):
    store.append(hidden[mask].half())
store.finalize({"source": args.input})
