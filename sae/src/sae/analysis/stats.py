"""Per-feature statistics: the dataclasses and a streaming accumulator over code batches."""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch


@dataclass
class FeatureStats:
    """Activation statistics of one latent (mean/std over the tokens where it fires)."""

    feature_id: int
    activation_freq: float
    mean_activation: float
    max_activation: float
    std_activation: float
    total_activations: int


@dataclass
class TopExample:
    """One of a latent's strongest inputs: its row index in the data and the activation."""

    feature_id: int
    example_idx: int
    activation_value: float


class StatsAccumulator:
    """Running count / sum / sum of squares / max per latent, fed with dense code batches."""

    def __init__(self, n_features: int):
        self.n_features = int(n_features)
        self.count = torch.zeros(self.n_features, dtype=torch.long)
        self.sum = torch.zeros(self.n_features, dtype=torch.float64)
        self.sum_sq = torch.zeros(self.n_features, dtype=torch.float64)
        self.max = torch.zeros(self.n_features, dtype=torch.float32)
        self.n_rows = 0

    def update(self, codes: torch.Tensor) -> None:
        """Add a [rows, n_features] batch of codes (only positive entries count as firing)."""
        codes = codes.float()
        active = codes > 0
        positive = torch.where(active, codes, torch.zeros((), dtype=codes.dtype))
        self.n_rows += codes.shape[0]
        self.count += active.sum(0)
        self.sum += positive.sum(0, dtype=torch.float64)
        self.sum_sq += (positive.double() ** 2).sum(0)
        if codes.shape[0]:
            self.max = torch.maximum(self.max, codes.max(0).values)

    def update_sparse(self, n_rows: int, latent: torch.Tensor, value: torch.Tensor) -> None:
        """Add a batch given as its positive entries only (latent id, value) over `n_rows` rows."""
        self.n_rows += int(n_rows)
        value = value.float()
        self.count += torch.bincount(latent, minlength=self.n_features)
        self.sum.index_add_(0, latent, value.double())
        self.sum_sq.index_add_(0, latent, value.double() ** 2)
        self.max.scatter_reduce_(0, latent, value, reduce="amax")

    def mean(self) -> np.ndarray:
        return (self.sum / self.count.clamp(min=1)).numpy()

    def build(self) -> list[FeatureStats]:
        """One FeatureStats per latent, in latent order."""
        count = self.count.numpy()
        mean = self.mean()
        var = (self.sum_sq / self.count.clamp(min=1)).numpy() - mean**2
        std = np.sqrt(np.clip(var, 0.0, None))
        freq = count / self.n_rows if self.n_rows else np.zeros(self.n_features)
        mx = self.max.numpy()
        return [
            FeatureStats(
                i, float(freq[i]), float(mean[i]), float(mx[i]), float(std[i]), int(count[i])
            )
            for i in range(self.n_features)
        ]


def _batches(activations, batch_size: int):
    if isinstance(activations, torch.Tensor):
        n = activations.shape[0]
        return (activations[i : i + batch_size] for i in range(0, n, batch_size)), -(
            -n // batch_size
        )
    return activations, (len(activations) if hasattr(activations, "__len__") else None)


def compute_feature_stats(
    sae: torch.nn.Module,
    activations,
    device: str = "cpu",
    top_k: int = 20,
    batch_size: int = 4096,
    output_dir: str | Path | None = None,
    show_progress: bool = True,
) -> tuple:
    """Encode `activations` (tensor or iterable of batches) -> (stats, top examples per latent).

    Top examples are kept in a bounded min-heap per latent, so memory does not grow with the data.
    With `output_dir`, also writes feature_stats.parquet and top_examples.parquet there.
    """
    sae = sae.eval().to(device)
    n_features = int(sae.hidden_dim)
    acc = StatsAccumulator(n_features)
    heaps: list[list] = [[] for _ in range(n_features)]
    batches, total = _batches(activations, batch_size)
    if show_progress:
        from tqdm.auto import tqdm

        batches = tqdm(batches, total=total, desc="Computing feature statistics")
    offset = 0
    for batch in batches:
        with torch.no_grad():
            codes = sae.encode(torch.as_tensor(batch).to(device, torch.float32)).float().cpu()
        acc.update(codes)
        k = min(top_k, codes.shape[0])
        if k:
            vals, rows = codes.topk(k, dim=0)  # [k, n_features]
            for feat in (vals[0] > 0).nonzero().squeeze(1).tolist():
                heap = heaps[feat]
                for v, r in zip(vals[:, feat].tolist(), rows[:, feat].tolist(), strict=True):
                    if v <= 0:
                        break
                    if len(heap) < top_k:
                        heapq.heappush(heap, (v, offset + r))
                    elif v > heap[0][0]:
                        heapq.heapreplace(heap, (v, offset + r))
        offset += codes.shape[0]
    stats = acc.build()
    top = [
        TopExample(feat, idx, val)
        for feat in range(n_features)
        for val, idx in sorted(heaps[feat], key=lambda e: (-e[0], e[1]))
    ]
    if output_dir is not None:
        write_stats_tables(stats, top, Path(output_dir))
    return stats, top


def write_stats_tables(stats: list[FeatureStats], top: list[TopExample], out: Path) -> None:
    """feature_stats.parquet + top_examples.parquet (the compute_feature_stats outputs)."""
    out.mkdir(parents=True, exist_ok=True)
    cols = ("feature_id", "activation_freq", "mean_activation", "max_activation")
    cols += ("std_activation", "total_activations")
    pq.write_table(
        pa.table({c: [getattr(s, c) for s in stats] for c in cols}), out / "feature_stats.parquet"
    )
    ex_cols = ("feature_id", "example_idx", "activation_value")
    pq.write_table(
        pa.table({c: [getattr(e, c) for e in top] for c in ex_cols}), out / "top_examples.parquet"
    )
    dead = sum(1 for s in stats if s.total_activations == 0)
    print(
        f"Saved stats of {len(stats)} features ({dead} never fire) and {len(top)} examples to {out}"
    )
