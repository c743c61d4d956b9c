"""Small helpers: device selection, seeding, the open-file limit, SAE memory estimates."""

from __future__ import annotations

import os
import random

import numpy as np
import torch
from sae.utils.memory import (
    sae_backward_memory,
    sae_forward_memory,
    sae_total_memory,
    sae_weight_memory,
)


def get_device(preferred: str | None = None) -> str:
    """The best available device name: ``"cuda"``, else ``"mps"``, else ``"cpu"``.

    Extension: ``preferred`` (e.g. ``"cpu"``, ``"cuda:1"``) is returned as given; ``"auto"`` or
    None picks as above.
    """
    if preferred and preferred != "auto":
        return str(preferred)
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def resolve_device(preferred: str | torch.device | None = None) -> torch.device:
    """Extension: a ``torch.device``; ``"auto"``/None -> this rank's GPU (LOCAL_RANK) or CPU."""
    if isinstance(preferred, torch.device):
        return preferred
    name = get_device(preferred)
    if name == "cuda":
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device(name)


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices); deterministic cuDNN kernels."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def get_file_limit() -> int:
    """The soft limit on open files for this process (1024 when it cannot be read)."""
    try:
        import resource

        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):
        return 1024
    if soft == resource.RLIM_INFINITY or soft <= 0:
        return 1024 if soft <= 0 else int(os.sysconf("SC_OPEN_MAX"))
    return int(soft)


__all__ = [
    "get_device",
    "get_file_limit",
    "resolve_device",
    "sae_backward_memory",
    "sae_forward_memory",
    "sae_total_memory",
    "sae_weight_memory",
    "set_seed",
]
