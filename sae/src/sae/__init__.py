"""sae: sparse-autoencoder runtime (activation store, TopK/ReLU SAEs, trainer with DDP, eval)."""

from sae.activation_store import (
    ActivationStore,
    ActivationStoreConfig,
    StoreError,
    load_activations,
    merge_stores,
    save_activations,
    wait_for_stores,
)
from sae.architectures import (
    MoESAE,
    ReLUSAE,
    ShardedTopKSAE,
    SparseAutoencoder,
    TopKSAE,
    load_sae,
)
from sae.eval import EvalResult, evaluate_sae
from sae.kernels import HAS_TRITON, TritonDecoderAutograd
from sae.process_group_manager import ProcessGroupManager
from sae.training import ParallelConfig, Trainer, TrainingConfig, WandbConfig
from sae.utils import get_device, set_seed

__version__ = "0.1.0"

__all__ = [
    "HAS_TRITON",
    "ActivationStore",
    "ActivationStoreConfig",
    "EvalResult",
    "MoESAE",
    "ParallelConfig",
    "ProcessGroupManager",
    "ReLUSAE",
    "ShardedTopKSAE",
    "SparseAutoencoder",
    "StoreError",
    "TopKSAE",
    "Trainer",
    "TrainingConfig",
    "TritonDecoderAutograd",
    "WandbConfig",
    "evaluate_sae",
    "get_device",
    "load_activations",
    "load_sae",
    "merge_stores",
    "save_activations",
    "set_seed",
    "wait_for_stores",
]
