"""Evaluate a trained SAE on a held-out activation cache."""

import argparse
import json

import torch
from sae.activation_store import ActivationStore
from sae.architectures import TopKSAE
from sae.eval import evaluate_reconstruction

p = argparse.ArgumentParser()
p.add_argument("--checkpoint", required=True)
p.add_argument("--eval-cache", required=True)
args = p.parse_args()

state = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
cfg = state["config"]
sae = TopKSAE(input_dim=cfg["input_dim"], hidden_dim=cfg["hidden_dim"], top_k=cfg["top_k"])
sae.load_state_dict(state["model_state_dict"])
store = ActivationStore(args.eval_cache)
result = evaluate_reconstruction(sae, store.sample(50_000, seed=1))
print(json.dumps({"fvu": result.fvu, "dead_pct": result.dead_pct}))
assert result.fvu < 1.0
