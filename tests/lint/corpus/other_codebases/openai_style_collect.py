"""Collect residual activations to .pt files for an offline SAE (OpenAI-style pipeline)."""

import torch
from transformers import AutoModel


def collect(model_name, texts, out_prefix="acts"):
    model = AutoModel.from_pretrained(model_name)
    tok_store = []
    for i, batch in enumerate(texts):
        out = model(**batch, output_hidden_states=True)
        tok_store.append(out.hidden_states[6])
        torch.save(out.hidden_states[6], f"{out_prefix}_{i}.pt")
    return tok_store
