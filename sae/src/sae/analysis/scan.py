"""Streaming feature scan over an activation store: statistics, histograms, top examples with
their sequence windows, and label matches, in two passes whose memory is bounded by the shard
size and the number of latents (never by the number of tokens).

Rows of the store are grouped into *segments* (one per input sequence, in row order); a row is
(segment, token position). Pass 1 encodes every row once; pass 2 re-encodes only the rows inside
the windows around each latent's top examples, to show the latent's activation along them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch
from sae.analysis.stats import FeatureStats, StatsAccumulator

# Histogram of positive activations on a log10 axis with fixed bins, so it streams:
# 20 bins per decade from 1e-4 to 1e4 (values outside are clipped into the end bins).
HIST_LOG10_MIN = -4.0
HIST_BINS_PER_DECADE = 20
HIST_BINS = 160

CODES_BUDGET = 1 << 24  # float32 code values per batch (64 MiB)

ShardSource = Callable[[], Iterable]  # () -> iterable of [rows, input_dim] arrays or tensors


@dataclass
class Segments:
    """Token counts per segment in store row order, and each segment's id (its input index)."""

    lengths: np.ndarray
    ids: np.ndarray

    def __post_init__(self) -> None:
        self.lengths = np.asarray(self.lengths, dtype=np.int64)
        self.ids = np.asarray(self.ids, dtype=np.int64)
        if self.lengths.shape != self.ids.shape:
            raise ValueError("segment lengths and ids differ in length")
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)])

    @property
    def n_rows(self) -> int:
        return int(self.offsets[-1])

    def locate(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Global rows -> (segment number, token position within the segment)."""
        seg = np.searchsorted(self.offsets, rows, side="right") - 1
        return seg, rows - self.offsets[seg]


@dataclass
class ScanResult:
    """Everything pass 1 and 2 gathered; arrays are indexed by latent id."""

    stats: list[FeatureStats]
    histogram: np.ndarray  # [n_latents, HIST_BINS] counts of positive activations
    top_rows: np.ndarray  # [n_latents, top_k] global row of each top example, -1 = none
    top_values: np.ndarray  # [n_latents, top_k]
    window_start: np.ndarray  # [n_latents, top_k] token position where the window starts
    windows: list  # windows[f][r] = activations of latent f along example r's window
    label_names: list[str]
    label_counts: np.ndarray  # [n_labels] tokens per label
    label_hits: np.ndarray  # [n_latents, n_labels] tokens of that label where the latent fires
    segments: Segments

    def best_labels(self) -> tuple[list[str | None], np.ndarray]:
        """Per latent: the label its firing matches best (F1 of fires vs label) and that F1."""
        n = self.label_hits.shape[0]
        if not self.label_names:
            return [None] * n, np.zeros(n, dtype=np.float32)
        fires = np.array([s.total_activations for s in self.stats], dtype=np.float64)
        f1 = 2 * self.label_hits / np.maximum(fires[:, None] + self.label_counts[None, :], 1)
        best = f1.argmax(1)
        score = f1[np.arange(n), best].astype(np.float32)
        names = [self.label_names[b] if score[i] > 0 else None for i, b in enumerate(best)]
        return names, score


def _codes(encode, x) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    with torch.inference_mode():
        return encode(x.float()).float().cpu()


def _merge_top(cand, top_k: int, n_latents: int):
    """Keep per latent the `top_k` strongest candidates, at most one per segment."""
    lat, seg, val, row = cand
    order = np.lexsort((row, -val, seg, lat))  # by latent, segment, strongest first
    lat, seg, val, row = lat[order], seg[order], val[order], row[order]
    first = np.ones(len(lat), dtype=bool)
    first[1:] = (lat[1:] != lat[:-1]) | (seg[1:] != seg[:-1])
    lat, seg, val, row = lat[first], seg[first], val[first], row[first]
    order = np.lexsort((row, -val, lat))
    lat, seg, val, row = lat[order], seg[order], val[order], row[order]
    starts = np.searchsorted(lat, np.arange(n_latents))
    rank = np.arange(len(lat)) - starts[lat]
    keep = rank < top_k
    return lat[keep], seg[keep], val[keep], row[keep], rank[keep]


def scan_activations(
    encode: Callable[[torch.Tensor], torch.Tensor],
    n_latents: int,
    shards: ShardSource,
    segments: Segments,
    *,
    row_labels: Callable[[int, int], np.ndarray] | None = None,
    label_names: list[str] | None = None,
    top_k: int = 10,
    window: int = 16,
    batch_size: int = 4096,
    show_progress: bool = True,
) -> ScanResult:
    """Two streaming passes over `shards()` (see the module docstring).

    `encode` maps a [rows, input_dim] float tensor to dense codes [rows, n_latents];
    `row_labels(a, b)` returns label ids (-1 = none) of global rows a..b-1.
    """
    from tqdm.auto import tqdm

    n = int(n_latents)
    # dense codes are [batch, n_latents] float32: cap a batch at 64 MiB of codes
    batch_size = max(1, min(int(batch_size), CODES_BUDGET // n))
    names = list(label_names or [])
    n_labels = len(names)
    acc = StatsAccumulator(n)
    hist = np.zeros(n * HIST_BINS, dtype=np.int64)
    hits = np.zeros(n * max(n_labels, 1), dtype=np.int64)
    counts = np.zeros(max(n_labels, 1), dtype=np.int64)
    empty = (
        np.zeros(0, np.int64),
        np.zeros(0, np.int64),
        np.zeros(0, np.float32),
        np.zeros(0, np.int64),
    )
    top = empty
    threshold = np.zeros(n, dtype=np.float32)  # k-th best value so far (0 until k are known)
    total = segments.n_rows
    bar = tqdm(total=total, desc="analyze: pass 1/2", unit="tok", disable=not show_progress)
    offset = 0
    for shard in shards():
        shard = torch.as_tensor(np.asarray(shard) if not isinstance(shard, torch.Tensor) else shard)
        for x in shard.split(batch_size):
            codes = _codes(encode, x)
            rows_b = x.shape[0]
            r, lat = codes.nonzero(as_tuple=True)
            val = codes[r, lat]
            acc.update_sparse(rows_b, lat, val)
            r, lat, val = r.numpy(), lat.numpy(), val.numpy()
            bins = np.floor((np.log10(val) - HIST_LOG10_MIN) * HIST_BINS_PER_DECADE)
            bins = np.clip(bins, 0, HIST_BINS - 1).astype(np.int64)
            hist += np.bincount(lat * HIST_BINS + bins, minlength=n * HIST_BINS)
            grow = offset + r
            if row_labels is not None and n_labels:
                labs = np.asarray(row_labels(offset, offset + rows_b), dtype=np.int64)
                counts += np.bincount(labs[labs >= 0], minlength=n_labels)
                lab_r = labs[r]
                ok = lab_r >= 0
                hits += np.bincount(lat[ok] * n_labels + lab_r[ok], minlength=n * n_labels)
            better = val > threshold[lat]
            if better.any():
                seg, _ = segments.locate(grow[better])
                cand = tuple(
                    np.concatenate([a, b])
                    for a, b in zip(top, (lat[better], seg, val[better], grow[better]), strict=True)
                )
                lt, sg, vl, rw, rank = _merge_top(cand, top_k, n)
                top = (lt, sg, vl, rw)
                full = rank == top_k - 1
                threshold[lt[full]] = vl[full]
            offset += rows_b
            bar.update(rows_b)
    bar.close()
    if offset != total:
        raise ValueError(
            f"the store has {offset} rows but the sequence order accounts for {total} tokens; "
            "it does not describe this store (re-extract the eval split)"
        )
    lat, seg, val, row = top
    lat, seg, val, row, rank = _merge_top((lat, seg, val, row), top_k, n)
    top_rows = np.full((n, top_k), -1, dtype=np.int64)
    top_vals = np.zeros((n, top_k), dtype=np.float32)
    top_rows[lat, rank] = row
    top_vals[lat, rank] = val
    starts, windows = _gather_windows(
        encode, shards, segments, top_rows, window, batch_size, show_progress
    )
    return ScanResult(
        stats=acc.build(),
        histogram=hist.reshape(n, HIST_BINS),
        top_rows=top_rows,
        top_values=top_vals,
        window_start=starts,
        windows=windows,
        label_names=names,
        label_counts=counts[:n_labels],
        label_hits=hits.reshape(n, max(n_labels, 1))[:, :n_labels],
        segments=segments,
    )


def _gather_windows(encode, shards, segments, top_rows, window, batch_size, show_progress):
    """Pass 2: the latent's activation at every token of the window around each top example."""
    from tqdm.auto import tqdm

    n, k = top_rows.shape
    lat, rank = np.nonzero(top_rows >= 0)
    peak = top_rows[lat, rank]
    seg, pos = segments.locate(peak)
    length = segments.lengths[seg]
    lo = np.maximum(pos - window, 0)
    hi = np.minimum(pos + window + 1, length)
    starts = np.zeros((n, k), dtype=np.int64)
    starts[lat, rank] = lo
    # one request per (example, token in its window)
    sizes = hi - lo
    ex = np.repeat(np.arange(len(lat)), sizes)
    within = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    req_row = segments.offsets[seg][ex] + lo[ex] + within
    req_lat = lat[ex]
    order = np.argsort(req_row, kind="stable")
    req_row, req_lat, ex, within = req_row[order], req_lat[order], ex[order], within[order]
    values = np.zeros(len(req_row), dtype=np.float32)
    bar = tqdm(total=len(req_row), desc="analyze: pass 2/2", unit="tok", disable=not show_progress)
    offset = 0
    for shard in shards():
        shard = torch.as_tensor(np.asarray(shard) if not isinstance(shard, torch.Tensor) else shard)
        end = offset + shard.shape[0]
        a, b = np.searchsorted(req_row, [offset, end])
        if b > a:
            uniq, inverse = np.unique(req_row[a:b] - offset, return_inverse=True)
            for c in range(0, len(uniq), batch_size):
                sel = uniq[c : c + batch_size]
                codes = _codes(encode, shard[torch.from_numpy(sel)])
                mask = (inverse >= c) & (inverse < c + len(sel))
                idx = np.nonzero(mask)[0]
                values[a + idx] = codes[
                    torch.from_numpy(inverse[idx] - c), torch.from_numpy(req_lat[a + idx])
                ].numpy()
            bar.update(b - a)
        offset = end
    bar.close()
    windows: list = [[None] * k for _ in range(n)]
    back = np.lexsort((within, ex))  # request order -> (example, position in its window)
    per_ex = np.split(values[back], np.cumsum(sizes)[:-1]) if len(sizes) else []
    for e, w in enumerate(per_ex):
        windows[lat[e]][rank[e]] = w
    return starts, windows
