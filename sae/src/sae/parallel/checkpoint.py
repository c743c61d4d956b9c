"""Sharded checkpoints of the tensor-parallel TopK SAE.

``save_sharded`` writes ``shard_{rank:03d}.pt`` per rank (+ ``meta.json`` from rank 0);
``load_and_merge`` concatenates the shards into one dense ``TopKSAE`` on CPU.
"""

from __future__ import annotations

import json
import os

import torch

from ..architectures.topk import TopKSAE

_META_KEYS = (
    "world_size",
    "input_dim",
    "hidden_dim",
    "top_k",
    "normalize_input",
    "auxk",
    "auxk_coef",
    "dead_tokens_threshold",
)


def save_sharded(model, out_dir: str, rank=None) -> None:
    """Write this rank's latent slice to ``out_dir/shard_{rank:03d}.pt``."""
    rank = model.rank if rank is None else int(rank)
    os.makedirs(out_dir, exist_ok=True)
    shard = {
        name: getattr(model, name).detach().cpu()
        for name in ("W_enc_local", "latent_bias_local", "W_dec_local", "pre_bias")
    }
    shard["rank"] = rank
    torch.save(shard, os.path.join(out_dir, f"shard_{rank:03d}.pt"))
    if rank == 0:
        meta = {key: getattr(model, key) for key in _META_KEYS}
        with open(os.path.join(out_dir, "meta.json"), "w") as f:
            json.dump(meta, f, indent=2)


def load_and_merge(out_dir: str):
    """Rebuild the dense ``TopKSAE`` (CPU) from the shards in ``out_dir``."""
    with open(os.path.join(out_dir, "meta.json")) as f:
        meta = json.load(f)
    shards = []
    for r in range(int(meta["world_size"])):
        path = os.path.join(out_dir, f"shard_{r:03d}.pt")
        shards.append(torch.load(path, map_location="cpu", weights_only=True))
    model = TopKSAE(
        input_dim=meta["input_dim"],
        hidden_dim=meta["hidden_dim"],
        top_k=meta["top_k"],
        normalize_input=meta["normalize_input"],
        auxk=meta["auxk"],
        auxk_coef=meta["auxk_coef"],
        dead_tokens_threshold=meta["dead_tokens_threshold"],
        init_encoder_from_decoder=False,
        init_pre_bias=False,
    )
    with torch.no_grad():
        model.encoder.weight.copy_(torch.cat([s["W_enc_local"] for s in shards], 0))
        model.latent_bias.copy_(torch.cat([s["latent_bias_local"] for s in shards], 0))
        model.decoder.weight.copy_(torch.cat([s["W_dec_local"] for s in shards], 1))
        model.pre_bias.copy_(shards[0]["pre_bias"])
    return model
