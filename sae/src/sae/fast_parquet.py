"""Direct reads of uncompressed ``fsb`` shards: file bytes straight into the destination array.

An ``fsb`` shard written without compression holds, per row group, one PLAIN data page of a
required fixed-size-binary column: after a small page header, the page data IS the row-major
[rows, H] array. ``read_fsb_into`` copies those bytes from the file into the caller's array
with ``preadv`` (one copy, like ``cat``) and checks each page's CRC-32 (the parquet page
checksum) on the freshly read, cache-hot chunk. Anything else (compression, another encoding,
no checksum, several pages) returns False and the caller decodes with pyarrow instead.
"""

from __future__ import annotations

import os
import zlib

import numpy as np
import pyarrow.parquet as pq

try:  # zlib-ng's CRC-32 is ~3x faster than zlib's on x86 (same polynomial, same values)
    from zlib_ng.zlib_ng import crc32 as _crc32
except ImportError:  # pragma: no cover - optional dependency
    _crc32 = zlib.crc32

_CHUNK = 8 << 20  # read and checksum in 8 MiB steps, while the bytes are still in cache
_I32 = 5  # thrift compact type id of i32


def _page_header(head: bytes) -> tuple[int, int, int, int | None]:
    """(type, uncompressed_size, compressed_size, crc) from a thrift-compact PageHeader."""
    vals: dict[int, int] = {}
    pos, fid = 0, 0
    while pos < len(head) and fid < 4:
        b = head[pos]
        if b & 0x0F != _I32 or not b >> 4:
            break
        fid += b >> 4
        pos += 1
        v = shift = 0
        while True:
            if pos >= len(head) or shift > 35:
                raise ValueError("truncated page header")
            c = head[pos]
            pos += 1
            v |= (c & 0x7F) << shift
            shift += 7
            if not c & 0x80:
                break
        vals[fid] = (v >> 1) ^ -(v & 1)  # zigzag
    if not {1, 2, 3} <= vals.keys():
        raise ValueError("unexpected page header")
    return vals[1], vals[2], vals[3], vals.get(4)


def fsb_plan(md: pq.FileMetaData, row_bytes: int) -> list[tuple[int, int, int]] | None:
    """Per row group ``(data_offset, rows, page_header_offset)``, or None when the file is
    not a single-page-per-row-group, uncompressed PLAIN fsb file (then pyarrow decodes it)."""
    if md.num_columns != 1:
        return None
    plan = []
    for g in range(md.num_row_groups):
        col = md.row_group(g).column(0)
        if (
            col.compression != "UNCOMPRESSED"
            or "PLAIN" not in col.encodings
            or col.has_dictionary_page
            or col.num_values != md.row_group(g).num_rows
        ):
            return None
        rows = md.row_group(g).num_rows
        start = col.data_page_offset + col.total_compressed_size - rows * row_bytes
        plan.append((start, rows, col.data_page_offset))
    return plan


def read_fsb_into(path, md: pq.FileMetaData, row_bytes: int, out: np.ndarray) -> bool:
    """Fill ``out`` (C-contiguous, ``rows * row_bytes`` bytes) from ``path``; False = not
    eligible (nothing promised about ``out``). Raises ValueError on a checksum mismatch."""
    plan = fsb_plan(md, row_bytes)
    if plan is None or not out.flags.c_contiguous or out.nbytes != md.num_rows * row_bytes:
        return False
    dest = memoryview(out.reshape(-1).view(np.uint8))
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        pos = 0
        for group, (start, rows, header_at) in enumerate(plan):
            size = rows * row_bytes
            head = os.pread(fd, min(64, start - header_at), header_at)
            try:
                ptype, usize, csize, crc = _page_header(head)
            except ValueError:
                return False
            if ptype != 0 or usize != size or csize != size or crc is None:
                return False
            running, done = 0, 0
            while done < size:
                view = dest[pos + done : pos + min(size, done + _CHUNK)]
                got = os.preadv(fd, [view], start + done)
                if got <= 0:
                    raise ValueError(f"file ends {size - done} bytes early")
                running = _crc32(view[:got], running)
                done += got
            if running != crc & 0xFFFFFFFF:
                raise ValueError(
                    f"CRC checksum verification failed for the data page of row group {group}"
                )
            pos += size
        return True
    finally:
        os.close(fd)
