"""Streaming loader over an ActivationStore with equal batch counts on every DDP rank.

Per epoch the (optionally permuted) shards form one global row sequence of ``total`` rows.
``len(loader) = total // (batch_size * world_size)``; rank ``r`` takes the disjoint contiguous
slice ``[r * len * batch_size, (r + 1) * len * batch_size)`` of that sequence, so every rank
yields exactly ``len(loader)`` full batches, whatever the shard sizes (partial shards anywhere
included). The few leftover rows (< batch_size * world_size) differ per epoch when shuffling.
``mix_shards=N`` concatenates N shard segments per buffer and shuffles rows across them.
"""

from __future__ import annotations

import queue
import threading
import warnings
from collections.abc import Iterator

import numpy as np
import torch


def prefetch(it: Iterator, depth: int) -> Iterator:
    """Run ``it`` in a background thread, ``depth`` items ahead (pyarrow releases the GIL)."""
    if depth <= 0:
        yield from it
        return
    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def worker() -> None:
        try:
            for item in it:
                if not put(item):
                    return
            put(done)
        except BaseException as exc:  # handed to the consumer
            put(exc)

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


class StreamingLoader:
    """Iterable of float32 ``[batch_size, H]`` tensors; see the module docstring."""

    def __init__(
        self,
        store,
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        max_shards: int | None = None,
        mix_shards: int = 1,
        prefetch: int = 2,
    ):
        if int(batch_size) < 1:
            raise ValueError(f"get_streaming_dataloader: batch_size must be >= 1, got {batch_size}")
        if int(world_size) < 1 or not 0 <= int(rank) < int(world_size):
            raise ValueError(
                f"get_streaming_dataloader: need 0 <= rank < world_size, got rank={rank}, "
                f"world_size={world_size}"
            )
        if int(mix_shards) < 1:
            raise ValueError(f"get_streaming_dataloader: mix_shards must be >= 1, got {mix_shards}")
        self.store = store
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.rank = int(rank)
        self.world_size = int(world_size)
        self.mix_shards = int(mix_shards)
        self.prefetch = int(prefetch)
        rows = store.shard_rows
        if max_shards is not None:
            if int(max_shards) < 1:
                raise ValueError(
                    f"get_streaming_dataloader: max_shards must be >= 1, got {max_shards}"
                )
            rows = rows[: int(max_shards)]
        self.rows = rows
        self.total_rows = int(sum(rows))
        self.n_batches = self.total_rows // (self.batch_size * self.world_size)
        if self.n_batches == 0:
            raise ValueError(
                f"store {store.path} has {self.total_rows} rows, fewer than batch_size x world_size "
                f"= {self.batch_size} x {self.world_size}; lower --batch-size or extract more data"
            )
        self.epoch = 0
        self._start_batch = 0

    def __len__(self) -> int:
        return self.n_batches

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose shard order / shuffle the next iteration uses."""
        self.epoch = int(epoch)

    def set_position(self, epoch: int, batch: int) -> None:
        """Resume: the next iteration is epoch ``epoch`` starting after its first ``batch`` batches."""
        self.epoch = int(epoch)
        self._start_batch = int(batch)

    def segments(self, epoch: int | None = None) -> list[tuple[int, int, int]]:
        """This rank's ``(shard, lo, hi)`` row ranges for ``epoch``, in reading order."""
        epoch = self.epoch if epoch is None else epoch
        order = np.arange(len(self.rows))
        if self.shuffle:
            order = np.random.default_rng([self.seed, epoch]).permutation(order)
        per_rank = self.n_batches * self.batch_size
        lo_g, hi_g = self.rank * per_rank, (self.rank + 1) * per_rank
        segs, off = [], 0
        for s in order.tolist():
            n = self.rows[s]
            lo, hi = max(lo_g, off), min(hi_g, off + n)
            if lo < hi:
                segs.append((s, lo - off, hi - off))
            off += n
            if off >= hi_g:
                break
        return segs

    def _read(self, segs) -> Iterator[np.ndarray]:
        for s, lo, hi in segs:
            yield self.store.read_shard(s)[lo:hi]

    def __iter__(self) -> Iterator[torch.Tensor]:
        epoch, skip = self.epoch, self._start_batch
        self._start_batch = 0
        rng = torch.Generator().manual_seed(
            (self.seed * 1_000_003 + epoch * 1009 + self.rank) % 2**62
        )
        bs = self.batch_size
        carry: torch.Tensor | None = None
        group: list[np.ndarray] = []
        emitted = 0
        segs = self.segments(epoch)
        it = prefetch(self._read(segs), self.prefetch)
        for i, seg in enumerate(it):
            group.append(seg)
            if len(group) < self.mix_shards and i < len(segs) - 1:
                continue
            with warnings.catch_warnings():  # arrow buffers are read-only; we never write them
                warnings.simplefilter("ignore", UserWarning)
                parts = [torch.from_numpy(g) for g in group]
            parts = ([carry] if carry is not None else []) + parts
            group = []
            buf = torch.cat(parts) if len(parts) > 1 else parts[0]
            n_full = buf.shape[0] // bs
            perm = torch.randperm(buf.shape[0], generator=rng) if self.shuffle else None
            for b in range(n_full):
                if emitted >= skip:
                    if perm is None:
                        batch = buf[b * bs : (b + 1) * bs]
                    else:
                        batch = buf.index_select(0, perm[b * bs : (b + 1) * bs])
                    yield batch.float() if batch.dtype != torch.float32 else batch.contiguous()
                emitted += 1
            rest = buf[n_full * bs :] if perm is None else buf.index_select(0, perm[n_full * bs :])
            carry = rest if rest.shape[0] else None
        if emitted != self.n_batches:  # pragma: no cover - guarded by construction
            raise RuntimeError(
                f"StreamingLoader yielded {emitted} batches, expected {self.n_batches}"
            )
