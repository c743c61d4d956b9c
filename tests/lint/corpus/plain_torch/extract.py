"""Plain PyTorch extraction loop for a bf16 protein LM."""

import argparse
import json
import os

import torch
from sae.activation_store import ActivationStore
from transformers import AutoModelForMaskedLM, AutoTokenizer


def write_done(out_dir, n_rows):
    with open(os.path.join(out_dir, "metadata.json"), "w") as fh:
        json.dump({"n_rows": n_rows}, fh)


def close_out(state):
    state["store"].flush()
    write_done(state["out"], state["rows"])


def extract(state, model, tok, seqs, layer):
    for seq in seqs:
        enc = tok(seq, return_tensors="pt").to("cuda")
        with torch.inference_mode():
            hidden = model(**enc, output_hidden_states=True).hidden_states[layer][0]
        mask = enc["attention_mask"][0].bool()
        flat = hidden[mask].cpu()
        state["store"].append(flat)
        state["rows"] += flat.shape[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seqs", required=True)
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--layer", type=int, default=12)
    a = ap.parse_args()
    tok = AutoTokenizer.from_pretrained("facebook/esm2_t12_35M_UR50D")
    model = AutoModelForMaskedLM.from_pretrained(
        "facebook/esm2_t12_35M_UR50D", torch_dtype=torch.bfloat16
    ).cuda()
    state = {"store": ActivationStore(a.out_dir), "out": a.out_dir, "rows": 0}
    seqs = [line.strip() for line in open(a.seqs) if line.strip()]
    try:
        extract(state, model, tok, seqs, a.layer)
    finally:
        close_out(state)


if __name__ == "__main__":
    main()
