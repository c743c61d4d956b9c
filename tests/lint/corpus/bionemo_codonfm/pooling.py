"""Turn padded CodonFM hidden states into store rows."""

import torch


def to_rows(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    keep = attention_mask.bool()
    keep[:, 0] = False  # CLS
    return hidden[keep].float()


def raw_rows(hidden: torch.Tensor) -> torch.Tensor:
    return hidden.reshape(-1, hidden.shape[-1])
