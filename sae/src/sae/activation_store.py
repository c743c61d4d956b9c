"""Parquet activation store: sharded writes, atomic finalize, fast reads, streaming for (DDP) training.

On disk: ``shard_{idx:05d}.parquet`` files plus ``metadata.json``, written LAST (temp file +
``os.replace``) so its presence means "complete". Two shard layouts (``sae.shard_io``), chosen
with ``ActivationStoreConfig(layout=...)`` and recorded in ``metadata.json``; both are read:
``fsb`` (the default: one raw vector per row, read straight into the destination) and
``reference`` (``dim_0..dim_{H-1}`` columns: the shared bionemo ``sae`` library reads only
this one).

Shards carry page checksums verified on every read, ``append`` refuses non-finite values and
float16 overflow, reference-layout shards written elsewhere are checked for NaN/null on read, and
``metadata.json`` is type-checked, so a store either gives back what was appended or says which
file is wrong. One writer per store: the first ``append`` takes an advisory lock
(``sae.writer_lock``, ``.writer.lock`` in the store) that a second writer on the same path --
another process, or another ``ActivationStore`` object -- fails on at once, naming the holder
(pid, host); ``finalize`` drops it. A full disk (or any OS error) while writing is a
``StoreError`` naming the store and the file, and leaves no temporary file behind.
"""

from __future__ import annotations

import errno
import json
import math
import os
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import torch
from sae.shard_io import (
    StoreError,
    read_ahead,
    read_shard,
    shard_files,
    shard_name,
    shard_rows_of,
    write_reference_shard,
    write_shard,
)
from sae.writer_lock import LockHeldError, WriterLock

if TYPE_CHECKING:
    from sae.streaming import StreamingDataLoader

HAS_PARQUET = True  # the reference library's flag; pyarrow is a hard dependency here
METADATA_FILE = "metadata.json"
LAYOUT_FSB = "fsb"
LAYOUT_REFERENCE = "reference"
LAYOUTS = (LAYOUT_FSB, LAYOUT_REFERENCE)
_DTYPES = {"float16": np.float16, "float32": np.float32}
_FP16_MAX = float(np.finfo(np.float16).max)


@dataclass
class ActivationStoreConfig:
    """Writer settings.

    ``compression``: parquet codec (``None`` = uncompressed, the fastest to read; float
    activations barely compress). ``dtype`` None = the first appended array's dtype
    (float16/float32). ``layout``: ``"fsb"`` (fast, this library) or ``"reference"``
    (``dim_i`` columns, readable by the shared bionemo ``sae`` library too).
    """

    shard_size: int = 100_000
    compression: str | None = None
    dtype: str | None = None
    layout: str = LAYOUT_FSB

    def __post_init__(self) -> None:
        if isinstance(self.shard_size, bool) or int(self.shard_size) < 1:
            raise ValueError(
                f"ActivationStoreConfig.shard_size must be an integer >= 1, got {self.shard_size!r}"
            )
        if self.dtype is not None and str(self.dtype) not in _DTYPES:
            raise ValueError(
                f"ActivationStoreConfig.dtype must be 'float16', 'float32' or None, got {self.dtype!r}"
            )
        if self.layout not in LAYOUTS:
            raise ValueError(
                f"ActivationStoreConfig.layout must be one of {LAYOUTS}, got {self.layout!r}"
            )
        if self.compression is not None and (
            not isinstance(self.compression, str)
            or (self.compression.lower() != "none" and not _codec_ok(self.compression))
        ):
            raise ValueError(
                "ActivationStoreConfig.compression must be None or a parquet codec "
                f"('snappy', 'zstd', 'gzip', 'lz4', 'brotli'), got {self.compression!r}"
            )


def _codec_ok(name: str) -> bool:
    try:
        return pa.Codec.is_available(name)
    except (ValueError, TypeError):
        return False


def _to_numpy_2d(x) -> np.ndarray:
    """Validate an append argument: 2-D float16/float32 tensor or array -> numpy."""
    if isinstance(x, torch.Tensor):
        if x.dtype == torch.bfloat16:
            raise TypeError(
                "ActivationStore.append: bfloat16 cannot be stored (Arrow/NumPy have no bf16); "
                "cast first with `.float()` or `.half()`"
            )
        x = x.detach().cpu().numpy()
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(
            f"ActivationStore.append expects a 2-D [n_tokens, hidden_dim] array, got shape "
            f"{tuple(x.shape)}; select valid positions first (e.g. `hidden[mask]`)"
        )
    if x.dtype not in (np.float16, np.float32):
        if x.dtype == np.float64:
            x = x.astype(np.float32)
        else:
            raise TypeError(
                f"ActivationStore.append: unsupported dtype {x.dtype}; cast with `.float()` or "
                "`.half()` (float32/float16)"
            )
    return x


_FP16_OVERFLOW = 65520.0  # the smallest magnitude float32 -> float16 rounds to inf


def _torch_view(x: np.ndarray) -> torch.Tensor:
    """A tensor sharing ``x``'s memory (read-only arrays included: it is only read)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(np.ascontiguousarray(x))


def _finite_and_peak(x: np.ndarray) -> tuple[bool, float]:
    """(no NaN/Inf in ``x``, largest magnitude) without a boolean temporary of ``x``'s size.

    float32: min and max (NaN propagates into them). float16: the exponent bits (all ones =
    Inf/NaN); its peak is irrelevant (float16 cannot overflow float16) and reported as 0.
    """
    if x.size == 0:
        return True, 0.0
    if x.dtype == np.float16:
        bits = np.ascontiguousarray(x).view(np.uint16)
        return int(np.bitwise_and(bits, 0x7C00).max()) != 0x7C00, 0.0
    lo, hi = float(x.min()), float(x.max())
    return math.isfinite(lo) and math.isfinite(hi), max(-lo, hi)


def _cast(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``x`` as ``dtype`` (no copy when it already is); torch's cast is the faster one."""
    if x.dtype == dtype:
        return x
    return _torch_view(x).to(getattr(torch, str(dtype))).numpy()


def write_json_atomic(path: Path, obj: dict) -> None:
    """Write JSON to a temp file in the same directory and ``os.replace`` it into place; the
    temp file is removed when anything fails (a full disk included)."""
    tmp = path.with_name(f".{path.name}.tmp.{os.getpid()}")
    try:
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _os_error(store: Path, file: str, exc: OSError) -> StoreError:
    reason = exc.strerror or str(exc)
    hint = (
        "free space there (or point the store at a filesystem with room) and re-run extraction"
        if exc.errno in (errno.ENOSPC, errno.EDQUOT)
        else "check the directory and re-run extraction"
    )
    return StoreError(
        f"activation store {store}: writing {file} failed ({reason}); nothing was left "
        f"half-written; {hint}"
    )


class ActivationStore:
    """A directory of parquet shards plus ``metadata.json``; write with ``append``/``finalize``."""

    def __init__(self, path, config: ActivationStoreConfig | None = None):
        self.path = Path(path)
        self.config = config or ActivationStoreConfig()
        self._shard_buf: np.ndarray | None = None  # the shard being filled
        self._fill = 0
        self._n_appended = 0
        self._shard_rows_written: list[int] = []
        self._dtype: np.dtype | None = (
            np.dtype(_DTYPES[self.config.dtype]) if self.config.dtype else None
        )
        self._hidden_dim: int | None = None
        self._writing = False
        self._meta: dict | None = None
        self._lock = WriterLock(self.path, "activation store")

    # ------------------------------------------------------------------ writing
    def _refuse_finalized(self) -> None:
        if (self.path / METADATA_FILE).exists():
            raise StoreError(
                f"{self.path} already holds a finalized store (metadata.json exists); delete the "
                "directory or choose another path before writing"
            )

    def claim(self, discard_finished: bool = False) -> ActivationStore:
        """Become this path's writer now: take the writer lock (a ``StoreError`` naming the
        holder if another writer has it), then clear what a crashed run left. Call it before
        anything else touches the directory; ``append`` claims implicitly.

        ``discard_finished``: a finished store already at this path is discarded (its
        metadata.json and shards) instead of refused - for scratch stores such as per-rank
        extraction output, never for a user's store.
        """
        if not self._writing:
            self._start_writing(discard_finished)
        return self

    def _start_writing(self, discard_finished: bool = False) -> None:
        if not discard_finished:
            self._refuse_finalized()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            _take_lock(self._lock)
            if discard_finished:
                (self.path / METADATA_FILE).unlink(missing_ok=True)
            self._refuse_finalized()  # finished by another writer while we waited for the lock
            for stale in shard_files(self.path):  # left by a crashed (never finalized) run
                stale.unlink()
        except OSError as exc:
            self._lock.release()
            raise _os_error(self.path, "the store directory", exc) from exc
        except BaseException:
            self._lock.release()
            raise
        self._writing = True

    def _refuse_bad_values(self, arr: np.ndarray, dtype: np.dtype) -> None:
        """NaN/Inf, or values that would become Inf in a float16 store: StoreError naming the
        row, column and shard. One min/max pass when all is well."""
        finite, peak = _finite_and_peak(arr)
        overflow = dtype == np.float16 and peak >= _FP16_OVERFLOW
        if finite and not overflow:
            return
        with np.errstate(invalid="ignore"):
            bad = np.abs(arr) >= _FP16_OVERFLOW if finite else ~np.isfinite(arr)
        row, col = (int(v[0]) for v in np.nonzero(bad))
        g = self._n_appended + row
        where = (
            f"at row {row} of this block (store row {g}, column {col}, shard "
            f"{shard_name(g // int(self.config.shard_size))} of {self.path})"
        )
        if finite:
            raise StoreError(
                f"ActivationStore.append: value {float(arr[row, col])!r} {where} overflows "
                f"float16 (largest {_FP16_MAX:g}); store float32 (ActivationStoreConfig("
                "dtype='float32')) or rescale the activations; nothing was stored"
            )
        raise StoreError(
            f"ActivationStore.append: non-finite value {float(arr[row, col])!r} {where}; the "
            "model produced NaN/Inf -- check its dtype (fp16 overflow?) and inputs; nothing was "
            "stored"
        )

    def append(self, activations) -> None:
        """Buffer a [n_tokens, hidden_dim] float16/float32 block; full shards are flushed.

        Refuses NaN/Inf (and float16 overflow) with the row and shard named.
        """
        arr = _to_numpy_2d(activations)
        if self._hidden_dim is None:
            hidden = int(arr.shape[1])
        elif arr.shape[1] != self._hidden_dim:
            raise ValueError(
                f"ActivationStore.append: width {arr.shape[1]} != hidden_dim {self._hidden_dim} "
                "of earlier appends"
            )
        else:
            hidden = self._hidden_dim
        dtype = np.dtype(self._dtype if self._dtype is not None else arr.dtype)
        self._refuse_bad_values(arr, dtype)
        stored = _cast(arr, dtype)
        if not self._writing:
            self._start_writing()
        self._hidden_dim, self._dtype = hidden, np.dtype(dtype)
        size, n, i = int(self.config.shard_size), stored.shape[0], 0
        while i < n:
            if self._fill == 0 and n - i >= size:  # a whole shard: written without a copy
                self._write(stored[i : i + size])
                i += size
                continue
            if self._shard_buf is None:
                self._shard_buf = np.empty((size, hidden), dtype=self._dtype)
            take = min(size - self._fill, n - i)
            self._shard_buf[self._fill : self._fill + take] = stored[i : i + take]
            self._fill += take
            i += take
            if self._fill == size:
                self._write(self._shard_buf)
                self._fill = 0
        self._n_appended += n

    def _write(self, x: np.ndarray) -> None:
        idx = len(self._shard_rows_written)
        writer = write_reference_shard if self.config.layout == LAYOUT_REFERENCE else write_shard
        try:
            writer(self.path / shard_name(idx), x, self.config.compression)
        except OSError as exc:
            raise _os_error(self.path, shard_name(idx), exc) from exc
        self._shard_rows_written.append(int(x.shape[0]))

    def finalize(self, metadata: dict | None = None) -> int:
        """Flush the last (partial) shard, then write ``metadata.json`` atomically; -> n_shards."""
        if self._fill:
            self._write(self._shard_buf[: self._fill])
        self._shard_buf, self._fill = None, 0
        if not self._shard_rows_written:
            raise StoreError(
                f"ActivationStore.finalize: nothing was appended to {self.path}; call append() "
                "before finalize()"
            )
        meta = dict(metadata or {})
        meta.update(
            n_samples=sum(self._shard_rows_written),
            hidden_dim=self._hidden_dim,
            n_shards=len(self._shard_rows_written),
            shard_size=int(self.config.shard_size),
            shard_rows=list(self._shard_rows_written),
            dtype=str(np.dtype(self._dtype)),
            layout=self.config.layout,
            compression=self.config.compression,
            page_checksums=True,
        )
        try:
            write_json_atomic(self.path / METADATA_FILE, meta)
        except OSError as exc:
            raise _os_error(self.path, METADATA_FILE, exc) from exc
        self._writing = False
        self._lock.release(remove=True)
        self._meta = meta
        self._shard_rows_written, self._n_appended = [], 0
        self._hidden_dim = None
        self._dtype = np.dtype(_DTYPES[self.config.dtype]) if self.config.dtype else None
        return meta["n_shards"]

    def save(self, activations, metadata: dict | None = None) -> int:
        """Write a whole [n, H] array in one go (append + finalize); -> n_shards."""
        self.append(activations)
        return self.finalize(metadata)

    # ------------------------------------------------------------------ reading
    @property
    def metadata(self) -> dict:
        if self._meta is None:
            self._meta = _load_metadata(self.path)
        return self._meta

    @property
    def n_samples(self) -> int:
        return int(self.metadata["n_samples"])

    @property
    def hidden_dim(self) -> int:
        return int(self.metadata["hidden_dim"])

    @property
    def n_shards(self) -> int:
        return int(self.metadata["n_shards"])

    @property
    def shard_rows(self) -> list[int]:
        """Rows per shard (from metadata, else from the parquet footers)."""
        meta = self.metadata
        if "shard_rows" not in meta:
            meta["shard_rows"] = [
                shard_rows_of(self.path / shard_name(i)) for i in range(self.n_shards)
            ]
        return [int(r) for r in meta["shard_rows"]]

    def read_shard(self, idx: int, out: np.ndarray | None = None) -> np.ndarray:
        """Shard ``idx`` in its stored dtype (may view Arrow memory), or decoded into ``out``."""
        return read_shard(self.path / shard_name(idx), self.hidden_dim, out)

    def _load_shard(self, shard_idx: int) -> np.ndarray:
        """Shard ``shard_idx`` as a writable numpy array in its stored dtype."""
        arr = self.read_shard(int(shard_idx))
        return arr if arr.flags.writeable else arr.copy()

    def iter_shards(
        self, shuffle_shards: bool = True, seed: int | None = None
    ) -> Iterator[np.ndarray]:
        """Yield each shard as a numpy array (order permuted when ``shuffle_shards``)."""
        order = list(range(self.n_shards))
        if shuffle_shards:
            np.random.default_rng(seed).shuffle(order)
        yield from read_ahead(order, self._load_shard, depth=1)

    def load_all(self, max_samples: int | None = None) -> torch.Tensor:
        """The first ``max_samples`` rows (default all) as one float32 tensor.

        Each shard is decoded straight into its slice of one preallocated array (uncompressed
        ``fsb`` shards: a single file-to-memory copy), which the tensor then shares.
        """
        rows = self.shard_rows
        total = sum(rows) if max_samples is None else min(int(max_samples), sum(rows))
        # numpy's allocation faults in several times faster than torch.empty's (huge-page advice)
        dest = np.empty((total, self.hidden_dim), dtype=np.float32)
        jobs, off = [], 0
        for i, n in enumerate(rows):
            if off >= total:
                break
            jobs.append((i, off, n))
            off += n

        def decode(job):
            i, lo, n = job
            if lo + n <= total:
                self.read_shard(i, out=dest[lo : lo + n])
            else:  # the last, partly wanted shard
                dest[lo:total] = self.read_shard(i)[: total - lo]

        for job in jobs:
            decode(job)
        return torch.from_numpy(dest)

    def sample(self, n: int, seed: int = 0, num_shards: int = 1) -> torch.Tensor:
        """``n`` random rows (float32) drawn evenly from ``num_shards`` randomly chosen shards."""
        rng = np.random.default_rng(seed)
        num = max(1, min(int(num_shards), self.n_shards))
        shards = sorted(rng.choice(self.n_shards, size=num, replace=False).tolist())
        per = [n // num + (1 if i < n % num else 0) for i in range(num)]
        parts = []
        for s, k in zip(shards, per, strict=True):
            data = self.read_shard(s)
            take = rng.choice(data.shape[0], size=min(k, data.shape[0]), replace=False)
            parts.append(data[np.sort(take)].astype(np.float32))
        return torch.from_numpy(np.concatenate(parts))

    def get_streaming_dataloader(
        self,
        batch_size: int = 4096,
        shuffle: bool = True,
        seed: int | None = None,
        rank: int = 0,
        world_size: int = 1,
        max_shards: int | None = None,
        mix_shards: int = 1,
        prefetch: int = 2,
    ) -> StreamingDataLoader:
        """A ``DataLoader`` of float32 batches streamed from disk, ``prefetch`` shards read ahead.

        Every rank gets the same number of full batches (see ``sae.streaming``); the loader's
        ``.dataset`` carries ``shard_indices`` and ``max_batches`` like the reference's.
        """
        from sae.streaming import StreamingDataLoader, StreamingLoader

        return StreamingDataLoader(
            StreamingLoader(
                self,
                batch_size=batch_size,
                shuffle=shuffle,
                seed=0 if seed is None else seed,
                rank=rank,
                world_size=world_size,
                max_shards=max_shards,
                mix_shards=mix_shards,
                prefetch=prefetch,
            )
        )

    def get_dataloader(
        self,
        batch_size: int = 4096,
        shuffle: bool = True,
        shuffle_buffer_size: int | None = None,
        num_workers: int = 0,
        seed: int | None = None,
        device: str | None = None,
    ) -> torch.utils.data.DataLoader:
        """A ``DataLoader`` over every row, one shard in RAM at a time (float32 batches).

        Shuffling permutes the shard order and the rows of each shard plus the carried
        remainder (at least ``shuffle_buffer_size`` rows mix); the last batch may be short.
        """
        from sae.streaming import ShardRowsDataset

        dataset = ShardRowsDataset(
            self, batch_size, shuffle, shuffle_buffer_size or 2 * batch_size, seed, device
        )
        return torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=num_workers)


def _field_error(meta_file: Path, key: str, want: str, value) -> StoreError:
    return StoreError(
        f"{meta_file}: field '{key}' must be {want}, got {value!r} ({type(value).__name__}); the "
        "file is damaged or was edited -- restore it or re-run extraction"
    )


def _is_int(v, lo: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= lo


def _validate_metadata(meta, meta_file: Path) -> None:
    """Type-check the keys this library relies on; errors name the file and the field."""
    if not isinstance(meta, dict):
        raise StoreError(f"{meta_file} must hold a JSON object, got {type(meta).__name__}")
    for key, lo in (("n_samples", 0), ("hidden_dim", 1), ("n_shards", 0)):
        if key not in meta:
            raise StoreError(f"{meta_file} lacks required field '{key}'; re-run extraction")
        if not _is_int(meta[key], lo):
            raise _field_error(meta_file, key, f"an integer >= {lo}", meta[key])
    if "shard_size" in meta and not _is_int(meta["shard_size"], 1):
        raise _field_error(meta_file, "shard_size", "an integer >= 1", meta["shard_size"])
    if "shard_rows" in meta:
        rows = meta["shard_rows"]
        if not isinstance(rows, list) or not all(_is_int(r, 0) for r in rows):
            raise _field_error(meta_file, "shard_rows", "a list of integers >= 0", rows)
        if len(rows) != meta["n_shards"] or sum(rows) != meta["n_samples"]:
            raise StoreError(
                f"{meta_file}: field 'shard_rows' ({len(rows)} shards, {sum(rows)} rows) "
                f"disagrees with n_shards={meta['n_shards']}, n_samples={meta['n_samples']}; "
                "re-run extraction"
            )
    if "dtype" in meta and meta["dtype"] not in (*_DTYPES, "mixed"):
        raise _field_error(meta_file, "dtype", "'float16' or 'float32'", meta["dtype"])
    if "layout" in meta and meta["layout"] not in (*LAYOUTS, "mixed"):
        raise _field_error(meta_file, "layout", f"one of {LAYOUTS}", meta["layout"])
    if "compression" in meta and not isinstance(meta["compression"], (str, type(None))):
        raise _field_error(meta_file, "compression", "a codec name or null", meta["compression"])


def _load_metadata(path: Path) -> dict:
    path = Path(path)
    meta_file = path / METADATA_FILE
    if not meta_file.is_file():
        if path.is_dir() and (shard_files(path) or any(path.glob(".rank_*"))):
            raise StoreError(
                f"{path} has shards but no metadata.json: the extraction that wrote it crashed or "
                "was killed before finalize(). Delete the directory and re-run extraction."
            )
        raise StoreError(
            f"{path} is not an activation store (no metadata.json); run extraction first"
        )
    try:
        meta = json.loads(meta_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StoreError(f"{meta_file} is not valid JSON ({exc}); re-run extraction") from exc
    _validate_metadata(meta, meta_file)
    meta.setdefault("layout", LAYOUT_FSB if "shard_rows" in meta else LAYOUT_REFERENCE)
    return meta


def load_activations(path) -> ActivationStore:
    """Open an existing store (``.load_all()`` gives every row as one float32 tensor)."""
    return ActivationStore(path)


def save_activations(
    activations,
    path,
    shard_size: int = 100_000,
    compression: str | None = None,
    metadata: dict | None = None,
    *,
    dtype: str | None = None,
    layout: str = LAYOUT_FSB,
) -> ActivationStore:
    """Write ``activations`` [n, H] as a complete store at ``path``; -> the store."""
    config = ActivationStoreConfig(shard_size, compression, dtype, layout)
    store = ActivationStore(path, config)
    store.save(activations, metadata=metadata)
    return store


def merge_stores(sources, dest, metadata: dict | None = None) -> int:
    """Move the shards of finished stores ``sources`` into ``dest`` (renumbered); -> n_shards.

    Every source must be finalized. ``metadata.json`` of ``dest`` is written last; sources'
    metadata keys are not copied except through ``metadata``.
    """
    dest = Path(dest)
    metas = [_load_metadata(Path(s)) for s in sources]
    if not metas:
        raise ValueError("merge_stores: no source stores given")
    dims = {int(m["hidden_dim"]) for m in metas}
    if len(dims) != 1:
        raise StoreError(f"merge_stores: sources disagree on hidden_dim {sorted(dims)}")
    if (dest / METADATA_FILE).exists():
        raise StoreError(f"merge_stores: {dest} is already a finalized store; delete it first")
    dest.mkdir(parents=True, exist_ok=True)
    lock = WriterLock(dest, "activation store")
    _take_lock(lock)
    try:
        return _merge_locked(sources, dest, metas, dims, metadata)
    finally:
        lock.release(remove=True)


def _take_lock(lock: WriterLock) -> None:
    try:
        lock.acquire()
    except LockHeldError as exc:
        raise StoreError(str(exc)) from None


def _merge_locked(sources, dest: Path, metas, dims, metadata) -> int:
    if (dest / METADATA_FILE).exists():
        raise StoreError(f"merge_stores: {dest} is already a finalized store; delete it first")
    for stale in shard_files(dest):
        stale.unlink()
    rows: list[int] = []
    for src, meta in zip(sources, metas, strict=True):
        src = Path(src)
        store_rows = ActivationStore(src).shard_rows
        for i in range(int(meta["n_shards"])):
            os.replace(src / shard_name(i), dest / shard_name(len(rows)))
            rows.append(store_rows[i])

    def same(key: str, default):
        values = {m.get(key, default) for m in metas}
        return values.pop() if len(values) == 1 else "mixed"

    out = dict(metadata or {})
    out.update(
        n_samples=sum(rows),
        hidden_dim=dims.pop(),
        n_shards=len(rows),
        shard_size=max(int(m.get("shard_size", max(rows))) for m in metas),
        shard_rows=rows,
        dtype=same("dtype", "float32"),
        layout=same("layout", LAYOUT_FSB),
        compression=same("compression", None),
        page_checksums=all(m.get("page_checksums", False) for m in metas),
    )
    try:
        write_json_atomic(dest / METADATA_FILE, out)
    except OSError as exc:
        raise _os_error(dest, METADATA_FILE, exc) from exc
    return len(rows)


def wait_for_stores(paths, timeout_s: float = 3600.0, poll_s: float = 2.0) -> None:
    """Block until every store in ``paths`` has ``metadata.json``; TimeoutError names the rest."""
    deadline = time.monotonic() + timeout_s
    while True:
        missing = [str(p) for p in paths if not (Path(p) / METADATA_FILE).is_file()]
        if not missing:
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(
                f"wait_for_stores: after {timeout_s:.0f}s these stores have no metadata.json "
                f"(their writers crashed or are still running): {missing}"
            )
        time.sleep(poll_s)
