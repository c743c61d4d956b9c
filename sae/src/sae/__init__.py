"""sae: sparse-autoencoder runtime (activation store, TopK/ReLU SAEs, trainer with DDP, eval).

``import sae`` is light: every name below is imported from its submodule on first use
(:mod:`sae._lazy`); recipes import the submodules they need directly (``sae.training``, ...).
"""

from sae import autointerp as _autointerp  # a lazy package too: loads nothing more
from sae._lazy import lazy_exports

__version__ = "0.1.0"

# submodule -> the names the package re-exports from it
_EXPORTS = {
    ".activation_store": (
        "ActivationStore",
        "ActivationStoreConfig",
        "StoreError",
        "load_activations",
        "merge_stores",
        "save_activations",
        "wait_for_stores",
    ),
    ".analysis": (
        "ClusterInfo",
        "FeatureGeometry",
        "FeatureLogits",
        "FeatureStats",
        "TopExample",
        "build_cluster_label_prompt",
        "compute_cluster_centroids",
        "compute_feature_logits",
        "compute_feature_stats",
        "compute_feature_umap",
        "export_text_features_parquet",
        "launch_dashboard",
        "save_cluster_labels",
        "save_feature_atlas",
    ),
    ".architectures": (
        "MoESAE",
        "ReLUSAE",
        "ShardedTopKSAE",
        "SparseAutoencoder",
        "TopKSAE",
        "load_sae",
    ),
    # LLM auto-interpretation (clients need the optional anthropic / openai packages)
    ".autointerp": tuple(_autointerp.__all__),
    ".collector": ("CollectorResult", "TokenActivationCollector", "TokenExample"),
    ".eval": (
        "DeadLatentTracker",
        "EvalResults",
        "LossRecoveredResult",
        "SparsityMetrics",
        "compute_loss_recovered",
        "compute_reconstruction_metrics",
        "evaluate_loss_recovered",
        "evaluate_sae",
        "evaluate_sparsity",
    ),
    ".kernels": ("HAS_TRITON", "TritonDecoderAutograd"),
    ".perf_logger": ("PerfLogger",),
    ".process_group_manager": ("ProcessGroupManager",),
    ".steering": ("clamp_hook", "steer"),
    ".streaming": ("StreamingActivationDataset", "StreamingConfig", "make_streaming_dataloader"),
    ".training": ("ParallelConfig", "Trainer", "TrainingConfig", "WandbConfig"),
    ".utils": ("get_device", "set_seed"),
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
