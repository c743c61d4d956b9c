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
from sae.architectures import ReLUSAE, TopKSAE, load_sae
from sae.eval import EvalResult, evaluate_sae
from sae.streaming import StreamingActivationDataset, StreamingConfig, make_streaming_dataloader
from sae.training import ParallelConfig, Trainer, TrainingConfig, WandbConfig
from sae.utils import get_device, set_seed

__version__ = "0.1.0"

__all__ = [
    "ActivationStore",
    "ActivationStoreConfig",
    "EvalResult",
    "ParallelConfig",
    "ReLUSAE",
    "StoreError",
    "StreamingActivationDataset",
    "StreamingConfig",
    "TopKSAE",
    "Trainer",
    "TrainingConfig",
    "WandbConfig",
    "evaluate_sae",
    "get_device",
    "load_activations",
    "load_sae",
    "make_streaming_dataloader",
    "merge_stores",
    "save_activations",
    "set_seed",
    "wait_for_stores",
]
