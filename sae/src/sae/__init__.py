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
from sae.eval import (
    DeadLatentTracker,
    EvalResults,
    LossRecoveredResult,
    SparsityMetrics,
    compute_loss_recovered,
    compute_reconstruction_metrics,
    evaluate_loss_recovered,
    evaluate_sae,
    evaluate_sparsity,
)
from sae.perf_logger import PerfLogger
from sae.training import ParallelConfig, Trainer, TrainingConfig, WandbConfig
from sae.utils import get_device, set_seed

__version__ = "0.1.0"

__all__ = [
    "ActivationStore",
    "ActivationStoreConfig",
    "DeadLatentTracker",
    "EvalResults",
    "LossRecoveredResult",
    "PerfLogger",
    "SparsityMetrics",
    "compute_loss_recovered",
    "compute_reconstruction_metrics",
    "evaluate_loss_recovered",
    "ParallelConfig",
    "ReLUSAE",
    "StoreError",
    "TopKSAE",
    "Trainer",
    "TrainingConfig",
    "WandbConfig",
    "evaluate_sae",
    "evaluate_sparsity",
    "get_device",
    "load_activations",
    "load_sae",
    "merge_stores",
    "save_activations",
    "set_seed",
    "wait_for_stores",
]
