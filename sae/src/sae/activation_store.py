"""Parquet activation store: sharded writes, atomic finalize, streaming reads for (DDP) training.

Layout on disk: ``shard_{idx:05d}.parquet`` files plus ``metadata.json``, which is written LAST
(temp file + ``os.replace``) so its presence means "complete". Two shard layouts are read:

* ``fsb`` (written by this library): one column ``activations`` of type
  ``fixed_size_binary(H * itemsize)`` holding each token's raw little-endian float16/float32
  vector; the dtype and H are in the parquet schema metadata (``sae.dtype``, ``sae.hidden_dim``).
  One value per row means no list levels to encode: see bench/bench_store.py for the figures.
* ``fsl``: one ``FixedSizeList<float>[H]`` column ``activations`` (read only).
* ``columns`` (the reference layout): one float column per dimension, ``dim_0..dim_{H-1}``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

if TYPE_CHECKING:
    from sae.streaming import StreamingLoader

METADATA_FILE = "metadata.json"
COLUMN = "activations"
LAYOUT_FSB = "fsb"
LAYOUT_FSL = "fsl"
LAYOUT_COLUMNS = "columns"
_DTYPES = {"float16": np.float16, "float32": np.float32}


class StoreError(RuntimeError):
    """A store on disk is missing, incomplete or corrupt."""


@dataclass
class ActivationStoreConfig:
    """Writer settings. ``dtype`` None = the first appended array's dtype (float16/float32)."""

    shard_size: int = 100_000
    compression: str | None = "snappy"
    dtype: str | None = None

    def __post_init__(self) -> None:
        if int(self.shard_size) < 1:
            raise ValueError(
                f"ActivationStoreConfig.shard_size must be >= 1, got {self.shard_size}"
            )
        if self.dtype is not None and str(self.dtype) not in _DTYPES:
            raise ValueError(
                f"ActivationStoreConfig.dtype must be 'float16', 'float32' or None, got {self.dtype!r}"
            )


def shard_name(idx: int) -> str:
    return f"shard_{idx:05d}.parquet"


def _shard_files(path: Path) -> list[Path]:
    return sorted(path.glob("shard_*.parquet"))


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


def write_json_atomic(path: Path, obj: dict) -> None:
    """Write JSON to a temp file in the same directory and ``os.replace`` it into place."""
    tmp = path.with_name(f".{path.name}.tmp.{os.getpid()}")
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_shard(path: Path, x: np.ndarray, compression: str | None) -> None:
    """Write one shard atomically (temp file + rename): one fixed-size-binary row per token."""
    x = np.ascontiguousarray(x)
    n, h = x.shape
    col = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(h * x.dtype.itemsize), n, [None, pa.py_buffer(x)]
    )
    meta = {b"sae.dtype": str(x.dtype).encode(), b"sae.hidden_dim": str(h).encode()}
    table = pa.Table.from_arrays([col], names=[COLUMN]).replace_schema_metadata(meta)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(
        table,
        tmp,
        compression=compression or "none",
        use_dictionary=False,
        write_statistics=False,
        row_group_size=max(n, 1),
    )
    os.replace(tmp, path)


def write_reference_shard(path: Path, x: np.ndarray, compression: str | None = "snappy") -> None:
    """Write one shard in the reference layout (``dim_0..dim_{H-1}`` columns); for tests/bench."""
    cols = [pa.array(np.ascontiguousarray(x[:, j])) for j in range(x.shape[1])]
    table = pa.Table.from_arrays(cols, names=[f"dim_{j}" for j in range(x.shape[1])])
    pq.write_table(table, path, compression=compression or "none")


def read_shard(path: Path, hidden_dim: int | None = None) -> np.ndarray:
    """Read one shard (either layout) as a 2-D numpy array in its stored dtype."""
    if not path.is_file():
        raise StoreError(
            f"shard {path} is missing; the store is incomplete -- re-run extraction into a fresh "
            "directory"
        )
    try:
        table = pq.read_table(path, use_threads=True)
    except Exception as exc:  # pyarrow raises several types for truncated/corrupt files
        raise StoreError(
            f"shard {path} is corrupt or truncated ({type(exc).__name__}: {exc}); delete the store "
            "directory and re-run extraction"
        ) from exc
    try:
        if table.column_names == [COLUMN] and pa.types.is_fixed_size_binary(table.schema[0].type):
            meta = table.schema.metadata or {}
            dtype = np.dtype(meta.get(b"sae.dtype", b"float32").decode())
            col = table.column(0).combine_chunks()
            width = col.type.byte_width // dtype.itemsize
            buf = col.buffers()[1]
            out = np.frombuffer(
                buf, dtype=dtype, count=len(col) * width, offset=col.offset * col.type.byte_width
            ).reshape(-1, width)
        elif table.column_names == [COLUMN]:  # fixed-size-list layout
            col = table.column(0).combine_chunks()
            h = col.type.list_size
            out = col.values.to_numpy(zero_copy_only=False).reshape(-1, h)
        else:
            names = [f"dim_{j}" for j in range(len(table.column_names))]
            if table.column_names != names:
                raise StoreError(
                    f"shard {path} has unknown columns {table.column_names[:4]}...; expected "
                    f"'{COLUMN}' or dim_0..dim_N"
                )
            out = np.empty(
                (table.num_rows, len(names)), dtype=table.schema.field(0).type.to_pandas_dtype()
            )
            for j in range(len(names)):
                out[:, j] = table.column(j).to_numpy()
    except StoreError:
        raise
    except Exception as exc:
        raise StoreError(f"shard {path} could not be decoded ({exc}); re-run extraction") from exc
    if hidden_dim is not None and out.shape[1] != hidden_dim:
        raise StoreError(
            f"shard {path} has width {out.shape[1]} but metadata.json says hidden_dim={hidden_dim}"
        )
    return out


def _shard_rows(path: Path) -> int:
    try:
        return pq.ParquetFile(path).metadata.num_rows
    except FileNotFoundError as exc:
        raise StoreError(f"shard {path} is missing; re-run extraction") from exc
    except Exception as exc:
        raise StoreError(
            f"shard {path} is corrupt or truncated ({type(exc).__name__}: {exc}); delete the store "
            "directory and re-run extraction"
        ) from exc


class ActivationStore:
    """A directory of parquet shards plus ``metadata.json``; write with ``append``/``finalize``."""

    def __init__(self, path, config: ActivationStoreConfig | None = None):
        self.path = Path(path)
        self.config = config or ActivationStoreConfig()
        self._buf: list[np.ndarray] = []
        self._buf_rows = 0
        self._n_written = 0
        self._shard_rows_written: list[int] = []
        self._dtype: np.dtype | None = (
            np.dtype(_DTYPES[self.config.dtype]) if self.config.dtype else None
        )
        self._hidden_dim: int | None = None
        self._writing = False
        self._meta: dict | None = None

    # ------------------------------------------------------------------ writing
    def _start_writing(self) -> None:
        if (self.path / METADATA_FILE).exists():
            raise StoreError(
                f"{self.path} already holds a finalized store (metadata.json exists); delete the "
                "directory or choose another path before writing"
            )
        self.path.mkdir(parents=True, exist_ok=True)
        for stale in _shard_files(self.path):  # left by a crashed (never finalized) run
            stale.unlink()
        self._writing = True

    def append(self, x) -> None:
        """Buffer a [n_tokens, hidden_dim] float16/float32 block; full shards are flushed."""
        arr = _to_numpy_2d(x)
        if not self._writing:
            self._start_writing()
        if self._hidden_dim is None:
            self._hidden_dim = int(arr.shape[1])
        elif arr.shape[1] != self._hidden_dim:
            raise ValueError(
                f"ActivationStore.append: width {arr.shape[1]} != hidden_dim {self._hidden_dim} "
                "of earlier appends"
            )
        if self._dtype is None:
            self._dtype = arr.dtype
        if arr.dtype != self._dtype:
            arr = arr.astype(self._dtype)
        if arr.shape[0] == 0:
            return
        self._buf.append(arr)
        self._buf_rows += arr.shape[0]
        size = int(self.config.shard_size)
        if self._buf_rows >= size:
            data = np.concatenate(self._buf)
            n_full = data.shape[0] // size
            for i in range(n_full):
                self._write(data[i * size : (i + 1) * size])
            rest = data[n_full * size :]
            self._buf = [rest] if rest.shape[0] else []
            self._buf_rows = rest.shape[0]

    def _write(self, x: np.ndarray) -> None:
        idx = len(self._shard_rows_written)
        write_shard(self.path / shard_name(idx), x, self.config.compression)
        self._shard_rows_written.append(int(x.shape[0]))
        self._n_written += int(x.shape[0])

    def finalize(self, metadata: dict | None = None) -> int:
        """Flush the last (partial) shard, then write ``metadata.json`` atomically; -> n_shards."""
        if not self._writing:
            self._start_writing()
        if self._buf_rows:
            self._write(np.concatenate(self._buf))
        self._buf, self._buf_rows = [], 0
        if self._n_written == 0:
            raise ValueError(f"ActivationStore.finalize: nothing was appended to {self.path}")
        meta = dict(metadata or {})
        meta.update(
            n_samples=self._n_written,
            hidden_dim=self._hidden_dim,
            n_shards=len(self._shard_rows_written),
            shard_size=int(self.config.shard_size),
            shard_rows=list(self._shard_rows_written),
            dtype=str(np.dtype(self._dtype)),
            layout=LAYOUT_FSB,
            compression=self.config.compression,
        )
        write_json_atomic(self.path / METADATA_FILE, meta)
        self._writing = False
        self._meta = meta
        return meta["n_shards"]

    def save(self, x, metadata: dict | None = None) -> int:
        """Write a whole array in one go (append + finalize)."""
        self.append(x)
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
                _shard_rows(self.path / shard_name(i)) for i in range(self.n_shards)
            ]
        return [int(r) for r in meta["shard_rows"]]

    def read_shard(self, idx: int) -> np.ndarray:
        """Shard ``idx`` as a numpy array in its stored dtype."""
        return read_shard(self.path / shard_name(idx), self.hidden_dim)

    def iter_shards(self, shuffle_shards: bool = False, seed: int = 0) -> Iterator[torch.Tensor]:
        """Yield each shard as a float32 tensor (shard order permuted when ``shuffle_shards``)."""
        order = np.arange(self.n_shards)
        if shuffle_shards:
            order = np.random.default_rng(seed).permutation(order)
        for i in order:
            arr = self.read_shard(int(i)).astype(np.float32, copy=False)
            yield torch.from_numpy(arr if arr.flags.writeable else arr.copy())

    def load_all(self) -> torch.Tensor:
        """Every row as one float32 tensor."""
        return torch.cat(list(self.iter_shards()))

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
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        max_shards: int | None = None,
        mix_shards: int = 1,
        prefetch: int = 2,
    ) -> StreamingLoader:
        """Stream batches; every rank gets the same number of batches (see ``StreamingLoader``)."""
        from sae.streaming import StreamingLoader

        return StreamingLoader(
            self,
            batch_size=batch_size,
            shuffle=shuffle,
            seed=seed,
            rank=rank,
            world_size=world_size,
            max_shards=max_shards,
            mix_shards=mix_shards,
            prefetch=prefetch,
        )

    def get_dataloader(self, batch_size: int, shuffle: bool = True, seed: int = 0, **kwargs):
        """An in-RAM ``torch.utils.data.DataLoader`` over every row (yields float32 tensors)."""
        data = self.load_all()
        gen = torch.Generator().manual_seed(seed)
        return torch.utils.data.DataLoader(
            data, batch_size=batch_size, shuffle=shuffle, generator=gen, **kwargs
        )


def _load_metadata(path: Path) -> dict:
    path = Path(path)
    meta_file = path / METADATA_FILE
    if not meta_file.is_file():
        if path.is_dir() and (_shard_files(path) or any(path.glob(".rank_*"))):
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
    for key in ("n_samples", "hidden_dim", "n_shards"):
        if key not in meta:
            raise StoreError(f"{meta_file} lacks required key '{key}'; re-run extraction")
    meta.setdefault("layout", LAYOUT_COLUMNS if "shard_rows" not in meta else LAYOUT_FSB)
    if "shard_size" not in meta:
        meta["_shard_size_missing"] = True
    return meta


def load_activations(path, max_samples: int | None = None) -> torch.Tensor:
    """Load a whole store (or its first ``max_samples`` rows) as one float32 tensor."""
    store = ActivationStore(path)
    parts, n = [], 0
    for shard in store.iter_shards():
        parts.append(shard)
        n += shard.shape[0]
        if max_samples is not None and n >= max_samples:
            break
    out = torch.cat(parts)
    return out[:max_samples] if max_samples is not None else out


def save_activations(
    x, path, metadata: dict | None = None, config: ActivationStoreConfig | None = None
) -> int:
    """Write ``x`` [n, H] as a complete store at ``path``; -> n_shards."""
    return ActivationStore(path, config).save(x, metadata)


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
    dtypes = {m.get("dtype") for m in metas}
    if (dest / METADATA_FILE).exists():
        raise StoreError(f"merge_stores: {dest} is already a finalized store; delete it first")
    dest.mkdir(parents=True, exist_ok=True)
    for stale in _shard_files(dest):
        stale.unlink()
    rows: list[int] = []
    layouts = set()
    for src, meta in zip(sources, metas, strict=True):
        src = Path(src)
        store_rows = ActivationStore(src).shard_rows
        layouts.add(meta.get("layout", LAYOUT_FSB))
        for i in range(int(meta["n_shards"])):
            os.replace(src / shard_name(i), dest / shard_name(len(rows)))
            rows.append(store_rows[i])
    out = dict(metadata or {})
    out.update(
        n_samples=sum(rows),
        hidden_dim=dims.pop(),
        n_shards=len(rows),
        shard_size=max(int(m.get("shard_size", max(rows))) for m in metas),
        shard_rows=rows,
        dtype=dtypes.pop() if len(dtypes) == 1 else "mixed",
        layout=layouts.pop() if len(layouts) == 1 else "mixed",
    )
    write_json_atomic(dest / METADATA_FILE, out)
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
