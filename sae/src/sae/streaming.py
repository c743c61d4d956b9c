"""Streaming activations: from a store on disk (equal batches on every DDP rank) or from producers.

Store streaming (``ActivationStore.get_streaming_dataloader``): per epoch the (optionally
permuted) shards form one global row sequence of ``total`` rows.
``len(loader) = total // (batch_size * world_size)``; rank ``r`` takes the disjoint contiguous
slice ``[r * len * batch_size, (r + 1) * len * batch_size)`` of that sequence, so every rank
yields exactly ``len(loader)`` full batches, whatever the shard sizes. The few leftover rows
(< batch_size * world_size) differ per epoch when shuffling. ``mix_shards=N`` concatenates N
shard segments per buffer and shuffles rows across them. Shards are read by a background
thread at most ``prefetch`` shards ahead, so memory stays bounded.

Producer streaming (``StreamingActivationDataset`` / ``make_streaming_dataloader``): activations
computed on the fly by one thread per producer factory feed a bounded queue (backpressure) and
are re-batched, optionally through a seeded shuffle buffer; nothing touches the disk.
"""

from __future__ import annotations

import queue
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from sae.shard_io import StoreError, read_ahead, shard_name
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

# A zero-argument callable returning a fresh iterable of [n_tokens, hidden_dim] chunks; called
# once per epoch, so every epoch re-runs the source.
ActivationProducer = Callable[[], Iterable[torch.Tensor]]


def _as_tensor(arr: np.ndarray) -> torch.Tensor:
    with warnings.catch_warnings():  # Arrow buffers may be read-only; we never write them
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(arr)


class StreamingLoader(IterableDataset):
    """Float32 ``[batch_size, H]`` batches of one rank's share of a store; see the module doc.

    ``shard_indices`` lists the shards this rank reads in the current epoch; setting
    ``max_batches`` caps the batches per epoch (the reference's DDP-sync knob).
    """

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
        self.max_batches: int | None = None
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

    def _wanted(self) -> int:
        cap = self.max_batches
        return self.n_batches if cap is None else max(0, min(self.n_batches, int(cap)))

    def __len__(self) -> int:
        return self._wanted()

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

    @property
    def shard_indices(self) -> list[int]:
        """The shards this rank reads in the current epoch, in reading order."""
        return [s for s, _, _ in self.segments()]

    def _read(self, seg: tuple[int, int, int]) -> np.ndarray:
        s, lo, hi = seg
        arr = self.store.read_shard(s)
        if arr.shape[0] != self.rows[s]:
            raise StoreError(
                f"shard {self.store.path / shard_name(s)} holds {arr.shape[0]} rows but "
                f"metadata.json says {self.rows[s]} (shard_rows); the store was modified after "
                "extraction -- re-run extraction"
            )
        return arr[lo:hi]

    def __iter__(self) -> Iterator[torch.Tensor]:
        epoch, skip = self.epoch, self._start_batch
        self._start_batch = 0
        wanted = self._wanted()
        rng = torch.Generator().manual_seed(
            (self.seed * 1_000_003 + epoch * 1009 + self.rank) % 2**62
        )
        bs = self.batch_size
        carry: torch.Tensor | None = None
        group: list[np.ndarray] = []
        emitted = 0
        segs = self.segments(epoch)
        for i, seg in enumerate(read_ahead(segs, self._read, self.prefetch)):
            group.append(seg)
            if len(group) < self.mix_shards and i < len(segs) - 1:
                continue
            parts = ([carry] if carry is not None else []) + [_as_tensor(g) for g in group]
            group = []
            buf = torch.cat(parts) if len(parts) > 1 else parts[0]
            n_full = buf.shape[0] // bs
            perm = torch.randperm(buf.shape[0], generator=rng) if self.shuffle else None
            for b in range(n_full):
                if emitted >= wanted:
                    return
                if emitted >= skip:
                    if perm is None:
                        batch = buf[b * bs : (b + 1) * bs]
                    else:
                        batch = buf.index_select(0, perm[b * bs : (b + 1) * bs])
                    yield batch.float() if batch.dtype != torch.float32 else batch.contiguous()
                emitted += 1
            rest = buf[n_full * bs :] if perm is None else buf.index_select(0, perm[n_full * bs :])
            carry = rest if rest.shape[0] else None
        if emitted != wanted:
            raise RuntimeError(
                f"StreamingLoader over store {self.store.path} yielded {emitted} batches, "
                f"expected {wanted} (rank {self.rank}, epoch {epoch}, shards "
                f"{[s for s, _, _ in segs]}); a shard holds fewer rows than metadata.json "
                "shard_rows says -- re-run extraction"
            )


class StreamingDataLoader(DataLoader):
    """A ``DataLoader`` over a ``StreamingLoader`` (batches pass through as they are), which
    also forwards ``set_epoch``/``set_position``/``segments`` for exact resume."""

    def __init__(self, dataset: StreamingLoader):
        super().__init__(dataset, batch_size=None, num_workers=0)

    def set_epoch(self, epoch: int) -> None:
        self.dataset.set_epoch(epoch)

    def set_position(self, epoch: int, batch: int) -> None:
        self.dataset.set_position(epoch, batch)

    def segments(self, epoch: int | None = None) -> list[tuple[int, int, int]]:
        return self.dataset.segments(epoch)

    @property
    def n_batches(self) -> int:
        return len(self.dataset)


class ShardRowsDataset(IterableDataset):
    """Every row of a store in float32 batches, one shard in RAM at a time (``get_dataloader``).

    With DataLoader workers each worker reads a disjoint subset of the shards.
    """

    def __init__(self, store, batch_size, shuffle, shuffle_buffer_size, seed, device):
        if int(batch_size) < 1:
            raise ValueError(f"get_dataloader: batch_size must be >= 1, got {batch_size}")
        self.store, self.batch_size, self.shuffle = store, int(batch_size), bool(shuffle)
        self.shuffle_buffer_size, self.seed, self.device = int(shuffle_buffer_size), seed, device

    def __len__(self) -> int:
        return -(-self.store.n_samples // self.batch_size)

    def __iter__(self) -> Iterator[torch.Tensor]:
        order = list(range(self.store.n_shards))
        rng = np.random.default_rng(self.seed)
        if self.shuffle:
            rng.shuffle(order)
        info = get_worker_info()
        if info is not None:
            order = order[info.id :: info.num_workers]
        gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
        bs, carry = self.batch_size, None
        for i, arr in enumerate(read_ahead(order, self.store.read_shard, depth=1)):
            x = _as_tensor(arr)
            buf = torch.cat([carry, x]) if carry is not None else x
            last = i == len(order) - 1
            if not last and buf.shape[0] < max(bs, self.shuffle_buffer_size):
                carry = buf
                continue
            if self.shuffle:
                buf = buf.index_select(0, torch.randperm(buf.shape[0], generator=gen))
            n_out = buf.shape[0] if last else buf.shape[0] // bs * bs
            for b in range(0, n_out, bs):
                batch = buf[b : b + bs].float()
                yield batch.to(self.device) if self.device else batch
            carry = buf[n_out:] if n_out < buf.shape[0] else None


@dataclass
class StreamingConfig:
    """Producer streaming settings.

    ``enabled``: read by callers to choose streaming over a cached store (off by default).
    ``queue_size``: chunks buffered between producers and the consumer (producers block when
    full). ``shuffle_buffer_size``: rows shuffled together before batching (0 = producer order).
    ``seed``: seeds that shuffle. ``drop_last``: drop the final short batch.
    """

    enabled: bool = False
    queue_size: int = 8
    shuffle_buffer_size: int = 0
    seed: int | None = None
    drop_last: bool = False


_END = object()  # one per producer: that producer is exhausted


def _chunk_2d(chunk) -> torch.Tensor:
    t = chunk if torch.is_tensor(chunk) else torch.as_tensor(np.asarray(chunk))
    t = t.detach().to(device="cpu", dtype=torch.float32)
    if t.ndim != 2:
        raise ValueError(
            f"StreamingActivationDataset: a producer yielded shape {tuple(t.shape)}; chunks must "
            "be 2-D [n_tokens, hidden_dim] (flatten and mask the tokens first)"
        )
    return t


class StreamingActivationDataset(IterableDataset):
    """Batches of activations computed on the fly by producer threads (see the module doc).

    ``producer_factory``: an ``ActivationProducer`` or a list of them (one thread each, all
    feeding one bounded queue). Producer errors are raised in the consumer; stopping early
    stops the producers.
    """

    def __init__(self, producer_factory, batch_size: int, config: StreamingConfig | None = None):
        if int(batch_size) <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        factories = [producer_factory] if callable(producer_factory) else list(producer_factory)
        if not factories or not all(callable(f) for f in factories):
            raise ValueError(
                "producer_factory must be a callable or a non-empty list of callables, each "
                "returning an iterable of [n_tokens, hidden_dim] chunks"
            )
        self.producer_factories = factories
        self.batch_size = int(batch_size)
        self.config = config or StreamingConfig()

    def _start(self, q: queue.Queue, stop: threading.Event) -> list[threading.Thread]:
        def put(item) -> bool:
            while not stop.is_set():
                try:
                    q.put(item, timeout=0.05)
                    return True
                except queue.Full:
                    pass
            return False

        def run(factory) -> None:
            try:
                for chunk in factory():
                    if stop.is_set() or not put(chunk):
                        return
            except BaseException as exc:  # handed to the consumer
                put(exc)
                return
            put(_END)

        threads = [
            threading.Thread(target=run, args=(f,), daemon=True, name=f"sae-producer-{i}")
            for i, f in enumerate(self.producer_factories)
        ]
        for t in threads:
            t.start()
        return threads

    def __iter__(self) -> Iterator[torch.Tensor]:
        cfg, bs = self.config, self.batch_size
        shuffling = cfg.shuffle_buffer_size > 0
        threshold = max(cfg.shuffle_buffer_size, bs) if shuffling else bs
        gen = torch.Generator()
        if cfg.seed is not None:
            gen.manual_seed(int(cfg.seed))
        else:
            gen.seed()
        q: queue.Queue = queue.Queue(maxsize=max(1, int(cfg.queue_size)))
        stop = threading.Event()
        threads = self._start(q, stop)
        pending: list[torch.Tensor] = []
        n_pending = 0

        def emit(final: bool) -> Iterator[torch.Tensor]:
            nonlocal pending, n_pending
            buf = torch.cat(pending) if len(pending) > 1 else pending[0]
            if shuffling:
                buf = buf.index_select(0, torch.randperm(buf.shape[0], generator=gen))
            n_full = buf.shape[0] // bs * bs
            for b in range(0, n_full, bs):
                yield buf[b : b + bs]
            rest = buf[n_full:]
            if final and rest.shape[0] and not cfg.drop_last:
                yield rest
            pending = [rest] if rest.shape[0] and not final else []
            n_pending = rest.shape[0] if not final else 0

        try:
            live = len(threads)
            while live:
                item = q.get()
                if item is _END:
                    live -= 1
                    continue
                if isinstance(item, BaseException):
                    raise item
                chunk = _chunk_2d(item)
                if chunk.shape[0] == 0:
                    continue
                pending.append(chunk)
                n_pending += chunk.shape[0]
                if n_pending >= threshold:
                    yield from emit(final=False)
            if n_pending:
                yield from emit(final=True)
        finally:
            stop.set()
            while True:  # free any producer blocked on a full queue
                try:
                    q.get_nowait()
                except queue.Empty:
                    break
            for t in threads:
                t.join(timeout=5.0)


def make_streaming_dataloader(
    producer_factory, batch_size: int, config: StreamingConfig | None = None
) -> DataLoader:
    """A ``DataLoader`` passing through the batches of a ``StreamingActivationDataset``.

    No worker processes: producers are threads of this process (where the models live).
    """
    dataset = StreamingActivationDataset(producer_factory, batch_size, config)
    return DataLoader(dataset, batch_size=None, num_workers=0)
