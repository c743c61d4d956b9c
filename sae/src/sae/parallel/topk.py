"""Exact top-k over latents split across ranks.

A latent in the global top-k is also in the top-k of its own shard, so the union of the
per-shard top-k candidates (gathered from every rank) contains the answer; a final top-k over
those ``world * k`` candidates gives it, identical on every rank.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from .comms import all_gather_cat


class GlobalTopK(NamedTuple):
    """Global top-k result, all ``[B, k]``.

    ``global_values`` / ``global_indices``: the selection (global latent ids), replicated.
    ``local_indices``: the shard-local id of each selection this rank owns, 0 elsewhere.
    ``owned_mask``: True where the selected latent lives on this rank.
    """

    global_values: torch.Tensor
    global_indices: torch.Tensor
    local_indices: torch.Tensor
    owned_mask: torch.Tensor


def global_topk(
    pre_act_local: torch.Tensor, k: int, rank: int, latents_per_rank: int, group=None
) -> GlobalTopK:
    """Top-``k`` over the full latent axis from this rank's ``[B, latents_per_rank]`` block."""
    offset = rank * latents_per_rank
    vals, idx = torch.topk(pre_act_local, min(k, pre_act_local.shape[1]), dim=-1)
    cand_vals = all_gather_cat(vals, group=group, dim=1)
    cand_ids = all_gather_cat(idx + offset, group=group, dim=1)
    values, pos = torch.topk(cand_vals, k, dim=-1)
    ids = cand_ids.gather(1, pos)
    owned = (ids >= offset) & (ids < offset + latents_per_rank)
    local = torch.where(owned, ids - offset, torch.zeros_like(ids))
    return GlobalTopK(values, ids, local, owned)


def dense_topk_reference(pre_act_full: torch.Tensor, k: int):
    """Single-process oracle: ``torch.topk`` over the whole latent axis -> (values, indices)."""
    return torch.topk(pre_act_full, k, dim=-1)
