"""The static feature dashboard: `index.html` (no dependencies, no network) plus data files.

`build_dashboard(site, atlas_path, features_dir)` turns the atlas parquet files (written by this
runtime or by the reference library) into `site/index.html`, `site/data/atlas.js` (one columnar
table of every latent) and `site/data/chunks/cNNNNN.js` (histograms and examples of
CHUNK_SIZE latents each, loaded only when a card of one of them opens). The data files are
JavaScript calls rather than JSON so the page also works opened straight from disk.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from importlib import resources
from pathlib import Path

import pyarrow.parquet as pq

CHUNK_SIZE = 64
ATLAS_COLUMNS = {  # dashboard key -> atlas parquet column (optional ones may be missing)
    "id": "feature_id",
    "label": "label",
    "freq": "activation_freq",
    "mean": "mean_activation",
    "max": "max_activation",
    "x": "x",
    "y": "y",
    "cluster": "cluster_id",
    "best_label": "best_label",
    "score": "best_label_f1",
    "label_source": "label_source",
}
EXAMPLE_COLUMNS = ("example_rank", "text_idx", "max_activation", "tokens_json", "position")
EXAMPLE_COLUMNS += ("window_start", "input_offset", "unit", "chars_per_token", "sequence_name")


def _js(call: str, *args) -> str:
    """`call(arg, ...);` with JSON arguments (ASCII-escaped, so safe inside a script file)."""
    return (
        f"{call}({', '.join(json.dumps(a, ensure_ascii=True, allow_nan=False) for a in args)});\n"
    )


def _clean(v):
    if isinstance(v, float) and v != v:  # NaN -> null
        return None
    return v


def _examples_by_feature(path: Path):
    """Yield (feature_id, [example dict]) in feature order, one record batch at a time (both
    libraries write the file sorted by feature id; an unsorted file is sorted in memory first)."""
    pf = pq.ParquetFile(path)
    cols = [c for c in ("feature_id", *EXAMPLE_COLUMNS) if c in pf.schema_arrow.names]
    fids = pq.read_table(path, columns=["feature_id"]).column(0).to_numpy()
    if len(fids) > 1 and (fids[1:] < fids[:-1]).any():
        batches = pq.read_table(path, columns=cols).sort_by("feature_id").to_batches(4096)
    else:
        batches = pf.iter_batches(batch_size=4096, columns=cols)
    current, rows = None, []
    for batch in batches:
        for row in batch.to_pylist():
            fid = int(row.pop("feature_id"))
            row["tokens"] = json.loads(row.pop("tokens_json") or "[]")
            row["rank"] = row.pop("example_rank")
            if fid != current and rows:
                yield current, sorted(rows, key=lambda r: r["rank"])
                rows = []
            current = fid
            rows.append(row)
    if rows:
        yield current, sorted(rows, key=lambda r: r["rank"])


def _clusters(columns: dict, labels: list) -> tuple[list[dict], int]:
    """Legend rows ``{id, n, label}`` per cluster (largest first) and the unclustered count.

    A cluster label (``{x, y, text}`` at its cluster's centroid, as ``save_cluster_labels``
    writes them) is matched to the cluster whose centroid is nearest, within 1% of the map.
    """
    ids, xs, ys = columns.get("cluster"), columns["x"], columns["y"]
    if ids is None:
        return [], 0
    sums: dict[int, list[float]] = {}
    unclustered = 0
    for c, x, y in zip(ids, xs, ys, strict=True):
        if c is None:
            unclustered += 1
            continue
        acc = sums.setdefault(int(c), [0, 0.0, 0.0])
        acc[0] += 1
        if x is not None and y is not None:
            acc[1] += x
            acc[2] += y
    rows = [
        {"id": c, "n": int(n), "label": None, "cx": sx / n, "cy": sy / n}
        for c, (n, sx, sy) in sums.items()
    ]
    finite = [v for v in (*xs, *ys) if v is not None]
    tol = 0.01 * ((max(finite) - min(finite)) if finite else 1.0) or 1e-9
    for lab in labels if isinstance(labels, list) else []:
        if not isinstance(lab, dict) or not isinstance(lab.get("text"), str):
            continue
        try:
            lx, ly = float(lab["x"]), float(lab["y"])
        except (KeyError, TypeError, ValueError):
            continue
        near = min(rows, key=lambda r: (r["cx"] - lx) ** 2 + (r["cy"] - ly) ** 2, default=None)
        if near is not None and abs(near["cx"] - lx) <= tol and abs(near["cy"] - ly) <= tol:
            near["label"] = near["label"] or lab["text"]
    rows.sort(key=lambda r: (-r["n"], r["id"]))
    return [{k: r[k] for k in ("id", "n", "label")} for r in rows], unclustered


def _map_method(atlas_path: Path) -> str | None:
    """How the atlas's x/y were made ("umap"/"pca"), from its schema metadata (ours only)."""
    meta = pq.read_schema(atlas_path).metadata or {}
    value = meta.get(b"sae.map_method")
    return value.decode("utf-8", "replace") if value else None


def _is_replaceable(site: Path) -> bool:
    """Only an empty directory or a dashboard we built may be replaced."""
    if site.is_symlink() or not site.is_dir():
        return False
    return not any(site.iterdir()) or (site / "data" / "atlas.js").is_file()


def build_dashboard(
    site: str | Path,
    atlas_path: str | Path,
    features_dir: str | Path | None = None,
    cluster_labels_path: str | Path | None = None,
    title: str = "SAE feature dashboard",
) -> Path:
    """Write the dashboard for `atlas_path` (+ feature_metadata/feature_examples parquet files in
    `features_dir`, default its directory) into `site`, replacing what was there."""
    atlas_path = Path(atlas_path)
    features_dir = Path(features_dir) if features_dir else atlas_path.parent
    site = Path(site)
    atlas = pq.read_table(atlas_path)
    names = set(atlas.column_names)
    missing = {"feature_id", "x", "y"} - names
    if missing:
        raise ValueError(f"{atlas_path}: not a feature atlas (missing columns {sorted(missing)})")
    columns = {
        k: [_clean(v) for v in atlas.column(c).to_pylist()]
        for k, c in ATLAS_COLUMNS.items()
        if c in names
    }
    ids = columns["id"]
    meta_path = features_dir / "feature_metadata.parquet"
    if meta_path.is_file():
        meta = pq.read_table(meta_path)
        wanted = [
            c for c in ("feature_id", "description", "histogram_json") if c in meta.column_names
        ]
        by_id = {r["feature_id"]: r for r in meta.select(wanted).to_pylist()}
        columns["description"] = [by_id.get(i, {}).get("description") for i in ids]
        hists = {i: r.get("histogram_json") for i, r in by_id.items()}
    else:
        hists = {}
    labels_path = (
        Path(cluster_labels_path)
        if cluster_labels_path
        else atlas_path.parent / "cluster_labels.json"
    )
    cluster_labels = json.loads(labels_path.read_text()) if labels_path.is_file() else []
    if (site.exists() or site.is_symlink()) and not _is_replaceable(site):
        raise FileExistsError(
            f"{site} exists and is not a dashboard built here; choose another directory"
        )
    site.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{site.name}-", dir=site.parent))
    try:
        (tmp / "data" / "chunks").mkdir(parents=True)
        chunk_ids: list[int] = []

        def flush(c: int, payload: dict) -> None:
            for fid in range(c * CHUNK_SIZE, (c + 1) * CHUNK_SIZE):
                if hists.get(fid):
                    payload.setdefault(str(fid), {})["histogram"] = json.loads(hists[fid])
            if payload:
                chunk_ids.append(c)
                text = _js("SAE_DASHBOARD.loadChunk", c, payload)
                (tmp / "data" / "chunks" / f"c{c:05d}.js").write_text(text)

        ex_path = features_dir / "feature_examples.parquet"
        done: set[int] = set()
        current, payload = None, {}
        for fid, rows in _examples_by_feature(ex_path) if ex_path.is_file() else ():
            c = fid // CHUNK_SIZE
            if c != current:
                if current is not None:
                    flush(current, payload)
                    done.add(current)
                current, payload = c, {}
            payload[str(fid)] = {"examples": rows}
        if current is not None:
            flush(current, payload)
            done.add(current)
        for c in sorted({fid // CHUNK_SIZE for fid, h in hists.items() if h} - done):
            flush(c, {})
        clusters, unclustered = _clusters(columns, cluster_labels)
        info = {
            "title": title,
            "map_method": _map_method(atlas_path),
            "clusters": clusters,
            "unclustered": unclustered,
            "n_latents": len(ids),
            "chunk_size": CHUNK_SIZE,
            "chunks": sorted(chunk_ids),
            "cluster_labels": cluster_labels,
            "source": atlas_path.name,
        }
        (tmp / "data" / "atlas.js").write_text(_js("SAE_DASHBOARD.loadAtlas", info, columns))
        page = resources.files("sae.dashboard").joinpath("index.html").read_text(encoding="utf-8")
        (tmp / "index.html").write_text(page, encoding="utf-8")
        if site.exists() or site.is_symlink():
            if not _is_replaceable(site):
                raise FileExistsError(
                    f"{site} exists and is not a dashboard built here; choose another directory"
                )
            shutil.rmtree(site)
        tmp.rename(site)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return site
