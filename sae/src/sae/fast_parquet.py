"""Direct reads of uncompressed ``fsb`` shards: file bytes straight into the destination array.

An uncompressed ``fsb`` shard holds PLAIN data pages of one required fixed-size-binary column:
after each small (thrift-compact) page header, the page data IS a run of rows of the row-major
[rows, H] array. ``read_fsb_into`` walks the pages of each row group and copies their data from
the file into the caller's array with ``preadv`` (one copy, like ``cat``), checking each page's
CRC-32 (the parquet page checksum) while the bytes are still in cache. Anything else
(compression, dictionary or v2 pages, another encoding, no checksum) returns False and the
caller decodes with pyarrow instead.
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

_HEAD = 256  # bytes read for a page header (grown when a header is longer)
_STEP = 2 << 20  # bytes read (then checksummed while in cache) per preadv
# thrift compact type ids
_TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY = 1, 2, 3, 4, 5, 6, 7, 8
_LIST, _SET, _MAP, _STRUCT = 9, 10, 11, 12
_PLAIN, _DATA_PAGE = 0, 0


class _Reader:
    """Minimal thrift compact-protocol reader over a bytes buffer (IndexError = need more)."""

    def __init__(self, buf: bytes):
        self.buf, self.pos = buf, 0

    def byte(self) -> int:
        b = self.buf[self.pos]
        self.pos += 1
        return b

    def varint(self) -> int:
        v = shift = 0
        while True:
            b = self.byte()
            v |= (b & 0x7F) << shift
            if not b & 0x80:
                return v
            shift += 7
            if shift > 63:
                raise ValueError("malformed varint in page header")

    def zigzag(self) -> int:
        v = self.varint()
        return (v >> 1) ^ -(v & 1)

    def skip(self, ftype: int) -> None:
        if ftype in (_TRUE, _FALSE):
            return
        if ftype == _BYTE:
            self.pos += 1
        elif ftype in (_I16, _I32, _I64):
            self.varint()
        elif ftype == _DOUBLE:
            self.pos += 8
        elif ftype == _BINARY:
            self.pos += self.varint()
        elif ftype in (_LIST, _SET):
            head = self.byte()
            size = head >> 4 if head >> 4 != 15 else self.varint()
            for _ in range(size):
                self.byte() if head & 0x0F in (_TRUE, _FALSE) else self.skip(head & 0x0F)
        elif ftype == _MAP:
            size = self.varint()
            if size:
                kv = self.byte()
                for _ in range(size):
                    self.skip(kv >> 4)
                    self.skip(kv & 0x0F)
        elif ftype == _STRUCT:
            self.struct()
        else:
            raise ValueError(f"unknown thrift type {ftype} in page header")
        if self.pos > len(self.buf):
            raise IndexError

    def struct(self, keep: dict | None = None, nested: dict | None = None) -> None:
        """Read a struct; i32 fields go into ``keep``, field 5's struct into ``nested``."""
        fid = 0
        while True:
            head = self.byte()
            if head == 0:
                return
            ftype = head & 0x0F
            fid = fid + (head >> 4) if head >> 4 else self.zigzag()
            if keep is not None and ftype == _I32:
                keep[fid] = self.zigzag()
            elif nested is not None and fid == 5 and ftype == _STRUCT:
                _Reader.struct(self, nested)
            else:
                self.skip(ftype)


def _page_header(fd: int, at: int) -> tuple[dict, dict, int]:
    """(top-level i32 fields, data_page_header i32 fields, header length) of the page at ``at``."""
    size = _HEAD
    while True:
        buf = os.pread(fd, size, at)
        r, top, data = _Reader(buf), {}, {}
        try:
            r.struct(top, data)
            return top, data, r.pos
        except IndexError:
            if len(buf) < size:
                raise ValueError("file ends inside a page header") from None
            size *= 4
            if size > 1 << 24:
                raise ValueError("page header too long") from None


def _eligible(md: pq.FileMetaData) -> bool:
    if md.num_columns != 1 or md.schema.column(0).max_definition_level != 0:
        return False  # a nullable column's pages carry definition levels before the values
    for g in range(md.num_row_groups):
        col = md.row_group(g).column(0)
        if (
            col.compression != "UNCOMPRESSED"
            or col.has_dictionary_page
            or not set(col.encodings) <= {"PLAIN", "RLE", "BIT_PACKED"}
        ):
            return False
    return True


def read_fsb_into(path, md: pq.FileMetaData, row_bytes: int, out: np.ndarray) -> bool:
    """Fill ``out`` (C-contiguous, ``rows * row_bytes`` bytes) from ``path``; False = not
    eligible (``out`` then holds nothing promised). ValueError on a checksum mismatch or a
    malformed page."""
    if not _eligible(md) or not out.flags.c_contiguous or out.nbytes != md.num_rows * row_bytes:
        return False
    dest = memoryview(out.reshape(-1).view(np.uint8))
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        pos = 0
        for g in range(md.num_row_groups):
            col = md.row_group(g).column(0)
            at, end = col.data_page_offset, col.data_page_offset + col.total_compressed_size
            group_end = pos + md.row_group(g).num_rows * row_bytes
            while at < end:
                top, data, hlen = _page_header(fd, at)
                size = top.get(3, -1)
                if (
                    top.get(1) != _DATA_PAGE
                    or data.get(2) != _PLAIN
                    or top.get(2) != size
                    or 4 not in top
                    or size % row_bytes
                    or pos + size > group_end
                ):
                    return False
                crc, done = 0, 0
                while done < size:  # read and checksum in cache-sized steps
                    view = dest[pos + done : pos + min(size, done + _STEP)]
                    got = os.preadv(fd, [view], at + hlen + done)
                    if got <= 0:
                        raise ValueError(f"file ends {size - done} bytes early in a data page")
                    crc = _crc32(view[:got], crc)
                    done += got
                if crc != top[4] & 0xFFFFFFFF:
                    raise ValueError(
                        f"CRC checksum verification failed for a data page of row group {g} "
                        f"(file offset {at})"
                    )
                pos += size
                at += hlen + size
            if pos != group_end:
                raise ValueError(f"row group {g} holds {pos} bytes of values, expected {group_end}")
        return True
    finally:
        os.close(fd)
