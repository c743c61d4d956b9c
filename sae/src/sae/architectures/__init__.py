"""SAE architectures: the ``SparseAutoencoder`` interface, ``TopKSAE``, ``ReLUSAE``,
``MoESAE`` and the tensor-parallel ``ShardedTopKSAE``; plus checkpoint loading helpers."""

from .base import SparseAutoencoder, geometric_median
from .loading import build_from_config, load_sae
from .moe import MoESAE
from .relu_l1 import ReLUSAE
from .topk import TopKSAE
from .topk_tp import ShardedTopKSAE

__all__ = [
    "MoESAE",
    "ReLUSAE",
    "ShardedTopKSAE",
    "SparseAutoencoder",
    "TopKSAE",
    "build_from_config",
    "geometric_median",
    "load_sae",
]
