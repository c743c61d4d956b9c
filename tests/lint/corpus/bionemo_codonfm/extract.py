"""CodonFM activations -> ActivationStore."""

import argparse
import json
from pathlib import Path

import torch
from pooling import raw_rows, to_rows
from sae.activation_store import ActivationStore


def load_model(name):
    from transformers import AutoModel

    return AutoModel.from_pretrained(name, torch_dtype=torch.bfloat16, trust_remote_code=True)


def run(args):
    model = load_model(args.checkpoint).eval()
    store = ActivationStore(args.output)
    debug_store = ActivationStore(Path(args.output) / "debug") if args.debug else None
    for batch in torch.load(args.batches, weights_only=True):
        with torch.no_grad():
            out = model(**batch, output_hidden_states=True)
        h = out.hidden_states[args.layer]
        store.append(to_rows(h, batch["attention_mask"]))
        if debug_store is not None:
            debug_store.append(raw_rows(h))
    store.finalize({"checkpoint": args.checkpoint, "layer": args.layer})


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--checkpoint", default="nvidia/codonfm-80m")
    p.add_argument("--batches", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--layer", type=int, default=-2)
    p.add_argument("--debug", action="store_true")
    args = p.parse_args()
    if (Path(args.output) / "metadata.json").is_file():
        return
    run(args)
    print(json.dumps({"done": args.output}))


if __name__ == "__main__":
    main()
