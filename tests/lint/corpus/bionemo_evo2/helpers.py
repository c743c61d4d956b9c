"""Helpers shared by the Evo2 extraction scripts."""

import torch


def rows_from_prediction(pred):
    """[batch, seq, dim] bf16 hidden states -> [tokens, dim] fp32 rows of real positions."""
    hidden = pred["hidden_states"]
    mask = pred["pad_mask"].bool()
    return hidden[mask].to(torch.float32)
