"""Feature analysis of a trained SAE: per-latent statistics, top examples, decoder maps,
clusters, the atlas parquet files and the dashboard server.

The reference names (compute_feature_stats, compute_feature_umap, save_feature_atlas, ...) keep
their signatures and defaults; `scan_activations` (two streaming passes over a store),
`compute_feature_map` (UMAP or PCA) and `write_scan_atlas` are this runtime's extensions.
"""

from sae.analysis.atlas import (
    ATLAS_FILE,
    EXAMPLES_FILE,
    METADATA_FILE,
    export_text_features_parquet,
    save_feature_atlas,
    write_scan_atlas,
)
from sae.analysis.geometry import (
    ClusterInfo,
    FeatureGeometry,
    FeatureLogits,
    build_cluster_label_prompt,
    compute_cluster_centroids,
    compute_feature_logits,
    compute_feature_map,
    compute_feature_umap,
    decoder_directions,
    save_cluster_labels,
)
from sae.analysis.scan import ScanResult, Segments, scan_activations
from sae.analysis.serve import launch_dashboard
from sae.analysis.stats import FeatureStats, StatsAccumulator, TopExample, compute_feature_stats

__all__ = [
    "ATLAS_FILE",
    "EXAMPLES_FILE",
    "METADATA_FILE",
    "ClusterInfo",
    "FeatureGeometry",
    "FeatureLogits",
    "FeatureStats",
    "ScanResult",
    "Segments",
    "StatsAccumulator",
    "TopExample",
    "build_cluster_label_prompt",
    "compute_cluster_centroids",
    "compute_feature_logits",
    "compute_feature_map",
    "compute_feature_stats",
    "compute_feature_umap",
    "decoder_directions",
    "export_text_features_parquet",
    "launch_dashboard",
    "save_cluster_labels",
    "save_feature_atlas",
    "scan_activations",
    "write_scan_atlas",
]
