"""Token-level collection of SAE activations over texts/sequences, with bounded memory per latent.

`TokenActivationCollector(encode_fn, n_features)` calls `encode_fn(item) -> (token_labels, codes
[n_tokens, n_features])` for every input, accumulates per-latent statistics, max-pools codes per
input, and keeps each latent's `top_k_tokens` strongest (input, position) pairs in a min-heap.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from sae.analysis.stats import FeatureStats, StatsAccumulator


@dataclass
class TokenExample:
    """A strongly activating token: which input, which position, its label and activation."""

    feature_id: int
    text_idx: int
    position: int
    token_label: str
    activation: float


@dataclass
class CollectorResult:
    """What `TokenActivationCollector.collect` gathered."""

    feature_stats: list[FeatureStats]
    text_codes: torch.Tensor  # [n_texts, n_features], max over each input's tokens
    token_examples: dict[int, list[TokenExample]]
    total_tokens: int
    total_texts: int
    _text_labels: list[list[str]] = field(default_factory=list, repr=False)
    _text_token_codes: list[torch.Tensor] | None = field(default=None, repr=False)

    def get_text_labels(self, text_idx: int) -> list[str]:
        """Token labels of input `text_idx`."""
        return self._text_labels[text_idx]

    def get_text_codes(self, text_idx: int) -> torch.Tensor | None:
        """Per-token codes of input `text_idx` (None unless collected with store_token_codes)."""
        return None if self._text_token_codes is None else self._text_token_codes[text_idx]


class TokenActivationCollector:
    """Stream inputs through `encode_fn`; see the module docstring."""

    def __init__(
        self,
        encode_fn: Callable,
        n_features: int,
        top_k_tokens: int = 50,
        store_token_codes: bool = False,
    ):
        self.encode_fn = encode_fn
        self.n_features = n_features
        self.top_k_tokens = top_k_tokens
        self.store_token_codes = store_token_codes

    def collect(self, inputs: list, show_progress: bool = True) -> CollectorResult:
        """Encode every input once and return the statistics, pooled codes and top tokens."""
        from tqdm.auto import tqdm

        n, k = self.n_features, self.top_k_tokens
        acc = StatsAccumulator(n)
        heaps: list[list] = [[] for _ in range(n)]
        pooled, labels_all = [], []
        token_codes: list[torch.Tensor] | None = [] if self.store_token_codes else None
        total_tokens = 0
        for t, item in enumerate(
            tqdm(inputs, desc="Collecting activations", disable=not show_progress)
        ):
            labels, codes = self.encode_fn(item)
            codes = codes.detach().cpu() if isinstance(codes, torch.Tensor) else torch.tensor(codes)
            labels = list(labels)
            total_tokens += codes.shape[0]
            labels_all.append(labels)
            if token_codes is not None:
                token_codes.append(codes)
            acc.update(codes)
            pooled.append(codes.max(0).values if codes.shape[0] else torch.zeros(n))
            pos, feat = codes.nonzero(as_tuple=True)
            for p, f, v in zip(pos.tolist(), feat.tolist(), codes[pos, feat].tolist(), strict=True):
                entry = (v, t, p, labels[p])
                heap = heaps[f]
                if len(heap) < k:
                    heapq.heappush(heap, entry)
                elif v > heap[0][0]:
                    heapq.heapreplace(heap, entry)
        examples = {
            f: [TokenExample(f, t, p, lab, v) for v, t, p, lab in sorted(h, key=lambda e: -e[0])]
            for f, h in enumerate(heaps)
            if h
        }
        return CollectorResult(
            feature_stats=acc.build(),
            text_codes=torch.stack(pooled) if pooled else torch.zeros(0, n),
            token_examples=examples,
            total_tokens=total_tokens,
            total_texts=len(pooled),
            _text_labels=labels_all,
            _text_token_codes=token_codes,
        )
