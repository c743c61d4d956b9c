"""Uniform batch sources for the trainer: in-RAM tensors and wrapped DataLoaders.

Each source has ``len()``, ``set_epoch(e)``, ``set_position(epoch, batch)`` and yields float
tensors ``[B, H]``, like ``sae.streaming.StreamingLoader``.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch


class _Positioned:
    """``len()`` plus the (epoch, batch) position a resumed run restarts from."""

    n_batches: int
    epoch: int = 0
    _start: int = 0

    def __len__(self) -> int:
        return self.n_batches

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def set_position(self, epoch: int, batch: int) -> None:
        self.epoch, self._start = int(epoch), int(batch)


class TensorLoader(_Positioned):
    """Batches from an in-RAM ``[N, H]`` tensor; rank ``r`` of ``world`` gets a disjoint slice."""

    def __init__(
        self,
        data: torch.Tensor,
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ):
        if data.ndim != 2:
            raise ValueError(
                f"Trainer.fit: tensor data must be 2-D [N, H], got {tuple(data.shape)}"
            )
        per_rank = data.shape[0] // world_size
        self.data = data[rank * per_rank : (rank + 1) * per_rank]
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.seed = int(seed)
        self.n_batches = self.data.shape[0] // self.batch_size
        if self.n_batches == 0:
            raise ValueError(
                f"Trainer.fit: {data.shape[0]} rows are fewer than batch_size x world_size = "
                f"{batch_size} x {world_size}; lower the batch size"
            )
        self.epoch, self._start = 0, 0

    def __iter__(self) -> Iterator[torch.Tensor]:
        start, self._start = self._start, 0
        bs = self.batch_size
        if self.shuffle:
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            perm = torch.randperm(self.data.shape[0], generator=gen)
            for b in range(start, self.n_batches):
                yield self.data.index_select(0, perm[b * bs : (b + 1) * bs])
        else:
            for b in range(start, self.n_batches):
                yield self.data[b * bs : (b + 1) * bs]


class DataLoaderSource(_Positioned):
    """Wrap any iterable (e.g. a DataLoader); batches may be tensors, tuples or dicts.
    ``n_batches`` is None when the iterable has no ``len()`` (a producer-driven stream)."""

    def __init__(self, loader):
        self.loader = loader
        try:
            self.n_batches = len(loader)
        except TypeError:
            self.n_batches = None
        self.epoch, self._start = 0, 0

    def __len__(self) -> int:
        if self.n_batches is None:
            raise TypeError("this data source has no length (a streaming loader)")
        return self.n_batches

    def __iter__(self) -> Iterator[torch.Tensor]:
        start, self._start = self._start, 0
        sampler = getattr(self.loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(self.epoch)
        for i, batch in enumerate(self.loader):
            if i < start:
                continue
            if isinstance(batch, (list, tuple)):
                batch = batch[0]
            elif isinstance(batch, dict):
                batch = batch.get("activations", next(iter(batch.values())))
            yield batch
