"""Batches of activations from a tensor, an activation store or any iterable of batches."""

from __future__ import annotations

from collections.abc import Iterable

import torch


def iter_batches(data, batch_size: int) -> Iterable[torch.Tensor]:
    """[B, H] float batches from a tensor (split), a store (shard by shard) or an iterable."""
    if isinstance(data, torch.Tensor):
        yield from data.split(batch_size)
        return
    if hasattr(data, "iter_shards"):
        for shard in data.iter_shards():
            yield from torch.as_tensor(shard).split(batch_size)
        return
    for batch in data:
        yield batch[0] if isinstance(batch, (list, tuple)) else batch
