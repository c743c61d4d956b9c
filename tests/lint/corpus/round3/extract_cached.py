"""Extract layer activations into an ActivationStore (worker-state variant, as in a public repo)."""

import argparse
from pathlib import Path

import torch
from sae.activation_store import ActivationStore

from recipe_src.activations import LayerReader

_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
_state: dict = {}


def _load_one(path, layer):
    blob = torch.load(path, map_location="cpu", weights_only=True)
    hidden, mask = blob["hidden"][layer], blob["mask"].bool()
    return hidden[mask].float(), int(mask.sum())


def _raw_one(path, layer):
    blob = torch.load(path, map_location="cpu", weights_only=True)
    return blob["n"], blob["hidden"][layer][blob["mask"].bool()]


def from_model(store, model, batches, layer):
    for tokens, mask in batches:
        hidden = model(tokens, output_hidden_states=True).hidden_states[layer]
        flat = hidden[mask.bool()].to(_state["cast"]).cpu()
        store.append(flat)


def from_files(store, paths, layer):
    for p in paths:
        flat, _n = _load_one(p, layer)
        store.append(flat)


def from_raw_files(store, paths, layer):
    for p in paths:
        _n, flat = _raw_one(p, layer)
        store.append(flat)


def from_reader(store, ckpt, fasta, layer):
    reader = LayerReader(ckpt, layer=layer)
    for acts in reader.iter_activations(fasta):
        store.append(acts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dtype", choices=["fp32", "fp16"], default="fp32")
    ap.add_argument("--inputs", nargs="+", required=True)
    ap.add_argument("--layer", type=int, default=-1)
    ap.add_argument("--output", required=True)
    args = ap.parse_args()
    _state["cast"] = _DTYPES[args.dtype]
    store = ActivationStore(Path(args.output))
    from_files(store, args.inputs, args.layer)
    from_raw_files(store, args.inputs, args.layer)
    store.finalize()


if __name__ == "__main__":
    main()
