"""Pick strongly and non-activating examples of a latent for an interpretation prompt."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch


@dataclass
class FeatureExamples:
    """A latent's high-activation examples and (randomly drawn) zero-activation examples."""

    feature_idx: int
    high_examples: list[dict]
    low_examples: list[dict]


class FeatureSampler:
    """Examples per latent from per-item activations [n_items, n_latents] and the raw items.

    `format_fn(item, activation, active_indices) -> str` renders an item for the prompt.
    """

    def __init__(
        self,
        activations: torch.Tensor,
        data: list[Any],
        format_fn: Callable[[Any, float, list[int]], str],
        n_high: int = 10,
        n_low: int = 5,
    ):
        if len(data) != activations.shape[0]:
            raise ValueError(
                f"data has {len(data)} items but activations has {activations.shape[0]} rows"
            )
        self.activations = activations
        self.data = data
        self.format_fn = format_fn
        self.n_high = n_high
        self.n_low = n_low

    def _example(self, idx: int, act: float) -> dict:
        return {
            "data_idx": idx,
            "activation": act,
            "formatted": self.format_fn(self.data[idx], act, []),
        }

    def sample_feature(self, feature_idx: int) -> FeatureExamples:
        """Up to n_high items with the largest positive activation; n_low random zero items."""
        acts = self.activations[:, feature_idx]
        high = []
        for idx in acts.argsort(descending=True)[: self.n_high].tolist():
            act = float(acts[idx])
            if act <= 0:
                break
            high.append(self._example(idx, act))
        zeros = (acts == 0).nonzero().squeeze(1)
        pick = zeros[torch.randperm(len(zeros))[: self.n_low]] if len(zeros) > self.n_low else zeros
        low = [self._example(int(i), 0.0) for i in pick.tolist()]
        return FeatureExamples(feature_idx=feature_idx, high_examples=high, low_examples=low)

    def sample_features(self, feature_indices: list[int]) -> list[FeatureExamples]:
        return [self.sample_feature(i) for i in feature_indices]
