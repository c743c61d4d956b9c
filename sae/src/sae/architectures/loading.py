"""Rebuild an SAE from a trainer checkpoint, ours or the reference library's.

Both write ``model_state_dict`` (reference key names) and ``model_config``; ours adds a
``class`` key, the reference's TopK config has none (MoE: ``architecture``). DDP-prefixed
(``module.``) state dicts are accepted.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import torch

from .base import SparseAutoencoder
from .moe import MoESAE
from .relu_l1 import ReLUSAE
from .topk import TopKSAE

ARCHITECTURES = {"TopKSAE": TopKSAE, "ReLUSAE": ReLUSAE, "MoESAE": MoESAE}


def build_from_config(model_config: dict, **fallback) -> SparseAutoencoder:
    """Construct the architecture named by ``class``/``architecture`` (default TopKSAE).

    Keys the constructor does not take are ignored; ``fallback`` fills missing ones
    (e.g. ``input_dim``/``hidden_dim`` stored beside the config).
    """
    cfg = dict(model_config or {})
    name = cfg.pop("class", None) or cfg.pop("architecture", None) or "TopKSAE"
    cfg.pop("architecture", None)
    if name not in ARCHITECTURES:
        raise ValueError(f"model_config.class must be one of {sorted(ARCHITECTURES)}, got {name!r}")
    cls = ARCHITECTURES[name]
    params = inspect.signature(cls).parameters
    for key, value in fallback.items():
        if value is not None:
            cfg.setdefault(key, value)
    return cls(**{k: v for k, v in cfg.items() if k in params})


def strip_ddp_prefix(state_dict: dict) -> dict:
    """Drop a leading ``module.`` (DDP wrapper) from every key, when all keys have it."""
    if state_dict and all(k.startswith("module.") for k in state_dict):
        return {k[len("module.") :]: v for k, v in state_dict.items()}
    return state_dict


def load_sae(path, device: str | torch.device = "cpu") -> SparseAutoencoder:
    """Load an SAE from a checkpoint file (``torch.load(weights_only=True)``)."""
    path = Path(path)
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or "model_state_dict" not in ckpt:
        raise ValueError(f"{path} is not an sae checkpoint: missing 'model_state_dict'")
    model = build_from_config(
        ckpt.get("model_config") or {},
        input_dim=ckpt.get("input_dim"),
        hidden_dim=ckpt.get("hidden_dim"),
    )
    model.load_state_dict(strip_ddp_prefix(ckpt["model_state_dict"]))
    return model.to(device)
