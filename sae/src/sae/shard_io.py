"""Shard files: the two parquet layouts written and read, with page checksums.

``fsb``: one required column ``activations`` of type ``fixed_size_binary(H * itemsize)``, a
token's raw little-endian float16/float32 vector per row (dtype and H in the schema metadata
``sae.dtype`` / ``sae.hidden_dim``); uncompressed shards are read by ``sae.fast_parquet``
straight into the destination array. ``reference``: one float column per dimension,
``dim_0..dim_{H-1}`` (the shared bionemo ``sae`` library's layout). Every write is atomic
(temp file + rename) with page checksums; every read verifies them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sae.fast_parquet import read_fsb_into

COLUMN = "activations"


class StoreError(RuntimeError):
    """A store on disk is missing, incomplete or corrupt, or a value cannot be stored."""


def shard_name(idx: int) -> str:
    return f"shard_{idx:05d}.parquet"


def shard_files(path: Path) -> list[Path]:
    return sorted(path.glob("shard_*.parquet"))


def _write_parquet(table: pa.Table, path: Path, compression: str | None, **kwargs) -> None:
    """Write ``table`` with page checksums to a temp file, then rename it into place."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        pq.write_table(
            table,
            tmp,
            compression=compression or "none",
            use_dictionary=False,
            write_statistics=False,
            write_page_checksum=True,
            **kwargs,
        )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_shard(path: Path, x: np.ndarray, compression: str | None) -> None:
    """Write one ``fsb`` shard atomically: one fixed-size-binary row per token in a required
    column (so uncompressed pages hold nothing but the rows: see ``sae.fast_parquet``)."""
    x = np.ascontiguousarray(x)
    n, h = x.shape
    row_bytes = h * x.dtype.itemsize
    col = pa.FixedSizeBinaryArray.from_buffers(pa.binary(row_bytes), n, [None, pa.py_buffer(x)])
    meta = {b"sae.dtype": str(x.dtype).encode(), b"sae.hidden_dim": str(h).encode()}
    schema = pa.schema([pa.field(COLUMN, col.type, nullable=False)], metadata=meta)
    table = pa.Table.from_arrays([col], schema=schema)
    _write_parquet(table, path, compression, row_group_size=max(n, 1))


def write_reference_shard(path: Path, x: np.ndarray, compression: str | None = "snappy") -> None:
    """Write one shard in the reference layout (``dim_0..dim_{H-1}`` float columns)."""
    cols = [pa.array(np.ascontiguousarray(x[:, j])) for j in range(x.shape[1])]
    table = pa.Table.from_arrays(cols, names=[f"dim_{j}" for j in range(x.shape[1])])
    _write_parquet(table, path, compression, row_group_size=max(x.shape[0], 1))


def _corrupt(path: Path, exc: Exception) -> StoreError:
    return StoreError(
        f"shard {path} is corrupt or truncated ({type(exc).__name__}: {exc}); delete the store "
        "directory and re-run extraction"
    )


def _read_table(path: Path) -> pa.Table:
    try:
        return pq.ParquetFile(path, page_checksum_verification=True).read(use_threads=True)
    except Exception as exc:  # pyarrow raises several types for truncated/corrupt files
        raise _corrupt(path, exc) from exc


def _fsb_view(table: pa.Table) -> np.ndarray:
    """The ``fsb`` column as a [rows, H] array viewing Arrow's buffer (writable when it is)."""
    meta = table.schema.metadata or {}
    dtype = np.dtype(meta.get(b"sae.dtype", b"float32").decode())
    if dtype not in (np.float16, np.float32):
        raise ValueError(f"unsupported sae.dtype {dtype}")
    col = table.column(0).combine_chunks()
    width = col.type.byte_width // dtype.itemsize
    return np.frombuffer(
        col.buffers()[1],
        dtype=dtype,
        count=len(col) * width,
        offset=col.offset * col.type.byte_width,
    ).reshape(-1, width)


def _check_shape(path: Path, rows: int, width: int, hidden_dim, out) -> None:
    if hidden_dim is not None and width != hidden_dim:
        raise StoreError(
            f"shard {path} has width {width} but metadata.json says hidden_dim={hidden_dim}"
        )
    if out is not None and out.shape != (rows, width):
        raise StoreError(
            f"shard {path} holds {rows} x {width} values, expected {out.shape[0]} x "
            f"{out.shape[1]} (metadata.json shard_rows); re-run extraction"
        )


def _read_fsb_direct(path: Path, md, hidden_dim, out):
    """Uncompressed ``fsb`` shard: file bytes straight into ``out`` (or a new array); None when
    the file needs pyarrow's decoder."""
    kv = md.metadata or {}
    col = md.schema.column(0)
    if b"sae.dtype" not in kv or md.num_columns != 1 or col.physical_type != "FIXED_LEN_BYTE_ARRAY":
        return None
    dtype = np.dtype(kv[b"sae.dtype"].decode())
    if dtype not in (np.float16, np.float32) or col.length % dtype.itemsize:
        return None
    width = col.length // dtype.itemsize
    _check_shape(path, md.num_rows, width, hidden_dim, out)
    direct = out is not None and out.dtype == dtype and out.flags.c_contiguous
    target = out if direct else np.empty((md.num_rows, width), dtype=dtype)
    try:
        ok = read_fsb_into(path, md, col.length, target)
    except (OSError, ValueError) as exc:
        raise _corrupt(path, exc) from exc
    if not ok:
        return None
    if out is not None and not direct:
        np.copyto(out, target, casting="unsafe")
        return out
    return target


def _refuse_non_finite(path: Path, x: np.ndarray) -> None:
    """NaN/Inf in a shard written elsewhere (this library's writer refuses them): StoreError
    naming the shard, row and column. One min/max pass when all is well."""
    if x.size == 0:
        return
    lo, hi = float(x.min()), float(x.max())
    if np.isfinite(lo) and np.isfinite(hi):
        return
    row, col = (int(v[0]) for v in np.nonzero(~np.isfinite(x)))
    raise StoreError(
        f"shard {path}: non-finite value {float(x[row, col])!r} at row {row}, column dim_{col}; "
        "the model that produced these activations emitted NaN/Inf -- re-run extraction (check "
        "its dtype and inputs)"
    )


def read_shard(path: Path, hidden_dim: int | None = None, out: np.ndarray | None = None):
    """Read one shard (either layout), checksums verified, as a 2-D array in its stored dtype.

    With ``out`` (a [rows, H] array, any float dtype) the values are decoded straight into it
    and ``out`` is returned; otherwise the result may view Arrow's memory.
    """
    path = Path(path)
    if not path.is_file():
        raise StoreError(
            f"shard {path} is missing; the store is incomplete -- re-run extraction into a fresh "
            "directory"
        )
    try:
        md = pq.read_metadata(path)
    except Exception as exc:
        raise _corrupt(path, exc) from exc
    direct = _read_fsb_direct(path, md, hidden_dim, out)
    if direct is not None:
        return direct
    table = _read_table(path)
    names = table.column_names
    try:
        if names == [COLUMN] and pa.types.is_fixed_size_binary(table.schema[0].type):
            src = _fsb_view(table)
            width = src.shape[1]
        else:
            width = len(names)
            if names != [f"dim_{j}" for j in range(width)] or width == 0:
                raise StoreError(
                    f"shard {path} has unknown columns {names[:4]}...; expected '{COLUMN}' or "
                    "dim_0..dim_N"
                )
            src = None
        _check_shape(path, table.num_rows, width, hidden_dim, out)
        if src is not None:
            if out is None:
                return src
            np.copyto(out, src, casting="unsafe")
            return out
        if out is None:
            out = np.empty(
                (table.num_rows, width), dtype=table.schema.field(0).type.to_pandas_dtype()
            )
        for j in range(width):
            column = table.column(j)
            if column.null_count:
                row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
                raise StoreError(
                    f"shard {path}: column dim_{j} holds {column.null_count} null value(s) (first "
                    f"at row {row}); whatever wrote this store wrote missing values -- re-run "
                    "extraction"
                )
            out[:, j] = column.to_numpy()
        _refuse_non_finite(path, out)
        return out
    except StoreError:
        raise
    except Exception as exc:
        raise StoreError(f"shard {path} could not be decoded ({exc}); re-run extraction") from exc


def shard_rows_of(path: Path) -> int:
    try:
        return pq.ParquetFile(path).metadata.num_rows
    except FileNotFoundError as exc:
        raise StoreError(f"shard {path} is missing; re-run extraction") from exc
    except Exception as exc:
        raise StoreError(
            f"shard {path} is corrupt or truncated ({type(exc).__name__}: {exc}); delete the store "
            "directory and re-run extraction"
        ) from exc


READ_AHEAD_JOIN_S = 120.0  # the longest a closed read-ahead waits for its in-flight read


def read_ahead(items, fn, depth: int = 2) -> Iterator:
    """Yield ``fn(item)`` for each item, computed by one background thread at most ``depth``
    results ahead (parquet decoding releases the GIL); errors surface in order."""
    items = list(items)
    if depth <= 0 or len(items) <= 1:
        for item in items:
            yield fn(item)
        return
    results: dict[int, tuple[bool, object]] = {}
    cond = threading.Condition()
    state = {"next": 0, "stop": False}

    def worker() -> None:
        for i, item in enumerate(items):
            with cond:
                while not state["stop"] and i - state["next"] >= depth:
                    cond.wait()
                if state["stop"]:
                    return
            try:
                res = (True, fn(item))
            except BaseException as exc:  # handed to the consumer
                res = (False, exc)
            with cond:
                results[i] = res
                cond.notify_all()
            if not res[0]:
                return

    thread = threading.Thread(target=worker, daemon=True, name="sae-store-read-ahead")
    thread.start()
    try:
        for i in range(len(items)):
            with cond:
                while i not in results:
                    cond.wait()
                ok, value = results.pop(i)
                state["next"] = i + 1
                cond.notify_all()
            if not ok:
                raise value
            yield value
    finally:
        with cond:
            state["stop"] = True
            cond.notify_all()
        # Wait for a read still in flight: a process that exits while the thread is inside
        # pyarrow's C++ reader can abort ("terminate called without an active exception").
        if thread is not threading.current_thread():
            thread.join(timeout=READ_AHEAD_JOIN_S)
