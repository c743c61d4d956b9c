"""Small helpers: device selection and seeding."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def get_device(preferred: str | None = None) -> torch.device:
    """Return `preferred` if given, else CUDA (this rank's LOCAL_RANK) when available, else CPU."""
    if preferred and preferred != "auto":
        return torch.device(preferred)
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
