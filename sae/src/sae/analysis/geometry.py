"""Decoder geometry: 2-D maps of decoder directions, clusters, and decoder-logit projections."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from sae.analysis.stats import FeatureStats


@dataclass
class FeatureGeometry:
    """2-D coordinates per latent (`umap_x`/`umap_y` hold PCA coordinates when UMAP is absent)."""

    feature_ids: np.ndarray
    umap_x: np.ndarray
    umap_y: np.ndarray
    cluster_ids: np.ndarray | None = None
    method: str = field(default="umap", compare=False)


@dataclass
class FeatureLogits:
    """Vocabulary tokens a latent's decoder direction promotes / suppresses most."""

    feature_id: int
    top_positive: list[tuple]
    top_negative: list[tuple]


@dataclass
class ClusterInfo:
    """A cluster of latents on the map: its centroid and members (noise, id -1, excluded)."""

    cluster_id: int
    x: float
    y: float
    feature_ids: list[int]
    size: int


def decoder_directions(sae: torch.nn.Module) -> np.ndarray:
    """[n_latents, input_dim] decoder directions, whichever layout the SAE stores them in."""
    n = int(sae.hidden_dim)
    decoder = getattr(sae, "decoder", None)
    weight = getattr(decoder, "weight", None)
    if weight is None:
        weight = getattr(sae, "W_dec", None)
    if weight is None:
        raise AttributeError(f"{type(sae).__name__} has neither decoder.weight nor W_dec")
    w = weight.detach().float().cpu()
    if decoder is not None or w.shape[0] != n:
        w = w.T  # nn.Linear(hidden, input).weight is [input, hidden]; W_dec is [hidden, input]
    return w.numpy()


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def pca_2d(x: np.ndarray) -> np.ndarray:
    """First two principal components of the rows (deterministic sign: largest loading > 0)."""
    centred = x - x.mean(0, keepdims=True)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    comps = vt[:2]
    signs = np.sign(comps[np.arange(len(comps)), np.abs(comps).argmax(1)])
    coords = centred @ (comps * signs[:, None]).T
    if coords.shape[1] < 2:
        coords = np.pad(coords, ((0, 0), (0, 2 - coords.shape[1])))
    return coords.astype(np.float32)


def kmeans(x: np.ndarray, k: int, seed: int = 0, n_iter: int = 50) -> np.ndarray:
    """Spherical k-means labels (cosine) with k-means++ seeding; deterministic for a seed."""
    x = _unit_rows(x.astype(np.float32))
    n = x.shape[0]
    k = max(1, min(int(k), n))
    rng = np.random.default_rng(seed)
    centres = [x[rng.integers(n)]]
    d2 = np.full(n, np.inf, dtype=np.float64)
    for _ in range(1, k):
        d2 = np.minimum(d2, ((x - centres[-1]) ** 2).sum(1))
        total = d2.sum()
        centres.append(x[rng.choice(n, p=d2 / total)] if total > 0 else x[rng.integers(n)])
    c = np.stack(centres)
    labels = np.zeros(n, dtype=np.int64)
    for it in range(n_iter):
        new = (x @ c.T).argmax(1)
        if it and np.array_equal(new, labels):
            break
        labels = new
        for j in range(k):
            members = x[labels == j]
            if len(members):
                c[j] = _unit_rows(members.sum(0, keepdims=True))[0]
    return labels


def compute_feature_umap(
    sae: torch.nn.Module,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    metric: str = "cosine",
    random_state: int = 42,
    compute_clusters: bool = True,
    hdbscan_min_cluster_size: int = 10,
) -> FeatureGeometry:
    """UMAP of the unit-normalised decoder directions; HDBSCAN clusters when `hdbscan` is there.

    Needs `umap-learn` (ImportError otherwise); `compute_feature_map` falls back to PCA.
    """
    try:
        from umap import UMAP
    except ImportError as exc:
        raise ImportError("compute_feature_umap needs umap-learn: pip install umap-learn") from exc
    x = _unit_rows(decoder_directions(sae))
    kw = dict(n_neighbors=n_neighbors, metric=metric, random_state=random_state)
    coords = UMAP(n_components=2, min_dist=min_dist, **kw).fit_transform(x)
    clusters = None
    if compute_clusters:
        try:
            import hdbscan
        except ImportError:
            print("hdbscan is not installed: no clusters")
        else:
            high = UMAP(n_components=10, min_dist=0.0, **kw).fit_transform(x)
            clusters = hdbscan.HDBSCAN(min_cluster_size=hdbscan_min_cluster_size).fit_predict(high)
    return FeatureGeometry(np.arange(x.shape[0]), coords[:, 0], coords[:, 1], clusters, "umap")


def compute_feature_map(
    sae: torch.nn.Module, n_clusters: int = 0, seed: int = 42, method: str = "auto"
) -> FeatureGeometry:
    """2-D map of decoder directions: UMAP when umap-learn is installed (or `method="umap"`),
    else PCA; `n_clusters` > 0 adds spherical k-means clusters of the directions."""
    x = _unit_rows(decoder_directions(sae))
    n = x.shape[0]
    if method not in ("auto", "umap", "pca"):
        raise ValueError(f"method must be auto, umap or pca, got {method!r}")
    coords = None
    if method != "pca" and n > 3:
        try:
            from umap import UMAP
        except ImportError:
            if method == "umap":
                raise ImportError(
                    "method='umap' needs umap-learn: pip install umap-learn"
                ) from None
        else:
            nn = max(2, min(15, n - 1))
            coords = UMAP(n_components=2, n_neighbors=nn, metric="cosine", random_state=seed)
            coords, method = coords.fit_transform(x).astype(np.float32), "umap"
    if coords is None:
        coords, method = pca_2d(x), "pca"
    clusters = kmeans(x, n_clusters, seed=seed) if n_clusters > 0 else None
    return FeatureGeometry(np.arange(n), coords[:, 0], coords[:, 1], clusters, method)


def compute_cluster_centroids(geometry: FeatureGeometry) -> list[ClusterInfo]:
    """Centroid and members of every cluster (noise -1 skipped), largest cluster first."""
    if geometry.cluster_ids is None:
        return []
    ids = np.asarray(geometry.cluster_ids)
    out = []
    for cid in sorted({int(c) for c in ids if int(c) != -1}):
        members = np.nonzero(ids == cid)[0]
        out.append(
            ClusterInfo(
                cluster_id=cid,
                x=float(np.mean(geometry.umap_x[members])),
                y=float(np.mean(geometry.umap_y[members])),
                feature_ids=[int(geometry.feature_ids[i]) for i in members],
                size=len(members),
            )
        )
    out.sort(key=lambda c: -c.size)
    return out


def build_cluster_label_prompt(
    cluster: ClusterInfo,
    descriptions: dict[int, str],
    stats: list[FeatureStats],
    max_features: int = 15,
) -> str:
    """An LLM prompt asking for a 2-5 word theme of a cluster, from its most frequent latents."""
    freq = {s.feature_id: s.activation_freq for s in stats}
    chosen = sorted(cluster.feature_ids, key=lambda f: -freq.get(f, 0.0))[:max_features]
    lines = "\n".join(
        f"  - Feature {f} (freq={freq.get(f, 0.0):.4f}): {descriptions.get(f, f'Feature {f}')}"
        for f in chosen
    )
    return (
        "These are the most frequent sparse-autoencoder features of one cluster, with their "
        f"descriptions.\n\nCluster {cluster.cluster_id} ({cluster.size} features):\n{lines}\n\n"
        "Give a short label (2-5 words) for the theme these features share. Reply with ONLY the "
        "label, nothing else.\n\nLabel:"
    )


def save_cluster_labels(clusters: list[ClusterInfo], labels: list[str], output_path) -> None:
    """Write [{x, y, text, priority}] (priority = cluster size) as JSON for the dashboards."""
    if len(clusters) != len(labels):
        raise ValueError(f"clusters has {len(clusters)} items, labels has {len(labels)}")
    path = Path(output_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [
        {"x": c.x, "y": c.y, "text": t, "priority": c.size}
        for c, t in zip(clusters, labels, strict=True)
    ]
    path.write_text(json.dumps(rows, indent=2))
    print(f"Saved {len(rows)} cluster labels to {path}")


def compute_feature_logits(
    sae: torch.nn.Module, unembedding: torch.Tensor, vocab: list[str], top_k: int = 10
) -> list[FeatureLogits]:
    """Project each decoder direction through the unembedding [vocab, input_dim]: top +/- tokens."""
    directions = torch.from_numpy(decoder_directions(sae))  # [n, input]
    effects = unembedding.detach().float().cpu() @ directions.T  # [vocab, n]
    pos_v, pos_i = effects.topk(top_k, dim=0)
    neg_v, neg_i = (-effects).topk(top_k, dim=0)
    return [
        FeatureLogits(
            feature_id=f,
            top_positive=[
                (vocab[i], v)
                for i, v in zip(pos_i[:, f].tolist(), pos_v[:, f].tolist(), strict=True)
            ],
            top_negative=[
                (vocab[i], -v)
                for i, v in zip(neg_i[:, f].tolist(), neg_v[:, f].tolist(), strict=True)
            ],
        )
        for f in range(effects.shape[1])
    ]
