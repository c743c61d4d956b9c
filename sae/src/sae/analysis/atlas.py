"""The atlas files both dashboards read: features_atlas.parquet (one row per latent: stats + map
coordinates), feature_metadata.parquet (one row per latent: description, logits; ours adds the
histogram), feature_examples.parquet (one row per (latent, example): tokens + activations)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sae.analysis.geometry import FeatureGeometry
from sae.analysis.scan import HIST_BINS_PER_DECADE, HIST_LOG10_MIN, ScanResult
from sae.analysis.stats import FeatureStats, TopExample

ATLAS_FILE = "features_atlas.parquet"
METADATA_FILE = "feature_metadata.parquet"
EXAMPLES_FILE = "feature_examples.parquet"


def save_feature_atlas(
    stats: list[FeatureStats],
    geometry: FeatureGeometry,
    output_path: str | Path,
    top_examples: list[TopExample] | None = None,
    extra_columns: dict | None = None,
    labels: list[str] | None = None,
) -> None:
    """One row per latent: stats, log10 frequency, map x/y, cluster, optional top example."""
    n = len(stats)
    if labels is not None and len(labels) != n:
        raise ValueError(f"labels has {len(labels)} items, expected {n}")
    freq = np.array([s.activation_freq for s in stats], dtype=np.float64)
    data = {
        "feature_id": [s.feature_id for s in stats],
        "label": list(labels) if labels is not None else [f"Feature {s.feature_id}" for s in stats],
        "activation_freq": freq.tolist(),
        "mean_activation": [s.mean_activation for s in stats],
        "max_activation": [s.max_activation for s in stats],
        "std_activation": [s.std_activation for s in stats],
        "total_activations": [s.total_activations for s in stats],
        "log_frequency": np.where(
            freq > 0, np.log10(np.where(freq > 0, freq, 1.0)), -10.0
        ).tolist(),
        "x": np.asarray(geometry.umap_x, dtype=np.float64).tolist(),
        "y": np.asarray(geometry.umap_y, dtype=np.float64).tolist(),
    }
    if geometry.cluster_ids is None:
        data["cluster_id"] = [0] * n
    else:  # noise (-1) becomes null: the reference dashboard reads the column as unsigned
        data["cluster_id"] = [int(c) if c >= 0 else None for c in np.asarray(geometry.cluster_ids)]
    if top_examples:
        best: dict[int, TopExample] = {}
        for ex in top_examples:
            best.setdefault(ex.feature_id, ex)
        data["top_example_idx"] = [best[i].example_idx if i in best else None for i in range(n)]
        data["top_example_activation"] = [
            best[i].activation_value if i in best else None for i in range(n)
        ]
    for name, values in (extra_columns or {}).items():
        if len(values) != n:
            raise ValueError(f"Extra column '{name}' has {len(values)} rows, expected {n}")
        data[name] = list(values)
    table = pa.table(data)
    method = getattr(geometry, "method", None)
    if method:  # the dashboard titles its map axes with it ("UMAP 1" / "PC 1")
        table = table.replace_schema_metadata({b"sae.map_method": str(method).encode()})
    pq.write_table(table, str(output_path), compression="snappy")
    print(f"Saved feature atlas ({n} features) to {output_path}")


def _metadata_table(ids, descriptions, freq, max_act, pos=None, neg=None, extra=None) -> pa.Table:
    n = len(ids)
    cols = {
        "feature_id": pa.array(ids, type=pa.int32()),
        "description": pa.array(descriptions, type=pa.utf8()),
        "activation_freq": pa.array(freq, type=pa.float32()),
        "max_activation": pa.array(max_act, type=pa.float32()),
        "top_positive_logits_json": pa.array(pos or [None] * n, type=pa.utf8()),
        "top_negative_logits_json": pa.array(neg or [None] * n, type=pa.utf8()),
    }
    cols.update(extra or {})
    return pa.table(cols)


def _examples_table(fid, rank, text_idx, max_act, tokens_json, extra=None) -> pa.Table:
    cols = {
        "feature_id": pa.array(fid, type=pa.int32()),
        "example_rank": pa.array(rank, type=pa.int8()),
        "text_idx": pa.array(text_idx, type=pa.int32()),
        "max_activation": pa.array(max_act, type=pa.float32()),
        "tokens_json": pa.array(tokens_json, type=pa.utf8()),
    }
    cols.update(extra or {})
    return pa.table(cols).sort_by("feature_id")


def export_text_features_parquet(
    collector_result,
    output_dir: str | Path,
    feature_logits=None,
    descriptions: dict[int, str] | None = None,
    n_examples: int = 5,
) -> None:
    """feature_metadata.parquet + feature_examples.parquet from a TokenActivationCollector run:
    latents by decreasing frequency; per latent its `n_examples` texts with the highest max."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    stats = collector_result.feature_stats
    logits = {fl.feature_id: fl for fl in feature_logits or []}
    descriptions = descriptions or {}
    order = sorted(range(len(stats)), key=lambda i: -stats[i].activation_freq)

    def logit_json(fid, side):
        fl = logits.get(fid)
        pairs = getattr(fl, side) if fl else None
        return json.dumps([[t, round(v, 3)] for t, v in pairs]) if pairs is not None else None

    meta = _metadata_table(
        order,
        [descriptions.get(i, f"Feature {i}") for i in order],
        [stats[i].activation_freq for i in order],
        [stats[i].max_activation for i in order],
        [logit_json(i, "top_positive") for i in order],
        [logit_json(i, "top_negative") for i in order],
    )
    pq.write_table(meta, str(out / METADATA_FILE))
    rows: dict[str, list] = {k: [] for k in ("fid", "rank", "text", "max", "json")}
    text_codes = collector_result.text_codes
    for fid in order:
        if text_codes.shape[0] == 0:
            break
        per_text = text_codes[:, fid]
        for rank, t in enumerate(per_text.argsort(descending=True)[:n_examples].tolist()):
            peak = float(per_text[t])
            if peak <= 0:
                break
            labels = collector_result.get_text_labels(t)
            codes = collector_result.get_text_codes(t)
            acts = codes[:, fid].tolist() if codes is not None else [0.0] * len(labels)
            tokens = [
                {"token": tok, "activation": round(a, 4)}
                for tok, a in zip(labels, acts, strict=True)
            ]
            for key, v in zip(rows, (fid, rank, t, peak, json.dumps(tokens)), strict=True):
                rows[key].append(v)
    table = _examples_table(rows["fid"], rows["rank"], rows["text"], rows["max"], rows["json"])
    pq.write_table(table, str(out / EXAMPLES_FILE), row_group_size=n_examples * 100)
    print(f"Saved {len(order)} feature descriptions and {table.num_rows} examples to {out}")


def write_scan_atlas(
    scan: ScanResult,
    geometry: FeatureGeometry,
    out: str | Path,
    token_text: Callable[[int, int, int], list[str]],
    unit: str = "token",
    chars_per_token: int = 1,
    descriptions: dict[int, str] | None = None,
    label_source: str | None = None,
    token_labels: Callable[[int, int, int], list] | None = None,
    sequence_names: Callable[[int], str] | None = None,
) -> dict:
    """Write the three atlas files from a scan; `token_text(segment, start, end)` gives the token
    strings of a segment's tokens start..end-1. Returns a small summary dict.

    `label_source` names where the scan's labels came from (e.g. "your labels (regions.fasta)" or
    "residue identity (fallback)"; an atlas column the dashboard shows beside the badge);
    `token_labels(segment, start, end)` gives each window token's label (or None), stored with
    the token as ``"label"``; `sequence_names(segment)` the sequence's name (FASTA id), stored as
    the examples' ``sequence_name``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    n = len(scan.stats)
    best, score = scan.best_labels()
    descriptions = descriptions or {}
    labels = [f"Feature {i}" + (f" ({best[i]})" if best[i] else "") for i in range(n)]
    top_rows = scan.top_rows
    top = [
        TopExample(f, int(top_rows[f, r]), float(scan.top_values[f, r]))
        for f in range(n)
        for r in range(top_rows.shape[1])
        if top_rows[f, r] >= 0
    ]
    save_feature_atlas(
        scan.stats,
        geometry,
        out / ATLAS_FILE,
        top_examples=top,
        labels=labels,
        extra_columns={
            "best_label": best,
            "best_label_f1": score.tolist(),
            **({"label_source": [label_source] * n} if label_source else {}),
        },
    )
    hist_json = []
    for f in range(n):
        nz = np.nonzero(scan.histogram[f])[0]
        if len(nz) == 0:
            hist_json.append(None)
            continue
        lo, hi = int(nz[0]), int(nz[-1]) + 1
        hist_json.append(
            json.dumps(
                {
                    "log10_min": HIST_LOG10_MIN + lo / HIST_BINS_PER_DECADE,
                    "bin_width_log10": 1 / HIST_BINS_PER_DECADE,
                    "counts": scan.histogram[f, lo:hi].tolist(),
                }
            )
        )
    meta = _metadata_table(
        list(range(n)),
        [descriptions.get(i, labels[i]) for i in range(n)],
        [s.activation_freq for s in scan.stats],
        [s.max_activation for s in scan.stats],
        extra={
            "mean_activation": pa.array([s.mean_activation for s in scan.stats], pa.float32()),
            "best_label": pa.array(best, pa.utf8()),
            "best_label_f1": pa.array(score, pa.float32()),
            "histogram_json": pa.array(hist_json, pa.utf8()),
        },
    )
    pq.write_table(meta, str(out / METADATA_FILE))
    cols: dict[str, list] = {k: [] for k in ("fid", "rank", "seq", "max", "json")}
    extra: dict[str, list] = {k: [] for k in ("position", "window_start", "input_offset")}
    names: list = []
    for f in range(n):
        for r in range(top_rows.shape[1]):
            row = int(top_rows[f, r])
            if row < 0:
                continue
            seg, pos = scan.segments.locate(np.array([row]))
            seg, pos = int(seg[0]), int(pos[0])
            start = int(scan.window_start[f, r])
            acts = scan.windows[f][r]
            texts = token_text(seg, start, start + len(acts))
            tokens = [
                {"token": t, "activation": round(float(a), 4)}
                for t, a in zip(texts, acts, strict=True)
            ]
            if token_labels is not None:
                for tok, lab in zip(
                    tokens, token_labels(seg, start, start + len(acts)), strict=True
                ):
                    if lab is not None:
                        tok["label"] = str(lab)
            if sequence_names is not None:
                names.append(str(sequence_names(seg)))
            values = (f, r, int(scan.segments.ids[seg]), float(scan.top_values[f, r]))
            for key, v in zip(cols, (*values, json.dumps(tokens)), strict=True):
                cols[key].append(v)
            extra["position"].append(pos)
            extra["window_start"].append(start)
            extra["input_offset"].append(start * chars_per_token)
    k = top_rows.shape[1]
    table = _examples_table(
        cols["fid"],
        cols["rank"],
        cols["seq"],
        cols["max"],
        cols["json"],
        extra={
            "position": pa.array(extra["position"], pa.int32()),
            "window_start": pa.array(extra["window_start"], pa.int32()),
            "input_offset": pa.array(extra["input_offset"], pa.int64()),
            "unit": pa.array([unit] * len(cols["fid"]), pa.utf8()),
            "chars_per_token": pa.array([chars_per_token] * len(cols["fid"]), pa.int8()),
            **({"sequence_name": pa.array(names, pa.utf8())} if sequence_names else {}),
        },
    )
    pq.write_table(table, str(out / EXAMPLES_FILE), row_group_size=max(k, 1) * 100)
    alive = sum(1 for s in scan.stats if s.total_activations > 0)
    return {
        "n_latents": n,
        "n_tokens": scan.segments.n_rows,
        "n_sequences": len(scan.segments.lengths),
        "alive_latents": alive,
        "dead_pct": 100.0 * (n - alive) / max(n, 1),
        "n_examples": table.num_rows,
        "map_method": geometry.method,
        "n_clusters": 0
        if geometry.cluster_ids is None
        else len(set(geometry.cluster_ids.tolist())),
    }
