"""build_dashboard: columnar atlas + lazily loaded per-chunk data; never clobbers other folders."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pq = pytest.importorskip("pyarrow.parquet")

from sae.analysis import Segments, compute_feature_map, scan_activations, write_scan_atlas  # noqa: E402
from sae.architectures import TopKSAE  # noqa: E402
from sae.dashboard import CHUNK_SIZE, build_dashboard  # noqa: E402


def js_args(path):
    text = path.read_text()
    call, rest = text.split("(", 1)
    return call, json.loads("[" + rest.rsplit(");", 1)[0] + "]")


@pytest.fixture(scope="module")
def analysis_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("dash") / "analysis"
    torch.manual_seed(0)
    sae = TopKSAE(8, 200, 6).eval()
    lengths = np.full(20, 25)
    x = torch.randn(500, 8).numpy()
    scan = scan_activations(
        sae.encode,
        200,
        lambda: [x],
        Segments(lengths, np.arange(20)),
        top_k=3,
        window=2,
        show_progress=False,
    )
    write_scan_atlas(
        scan,
        compute_feature_map(sae, n_clusters=2, method="pca"),
        out,
        lambda s, a, b: ["A"] * (b - a),
    )
    return out


def test_atlas_is_one_table_and_examples_load_per_chunk(analysis_dir, tmp_path):
    site = build_dashboard(tmp_path / "site", analysis_dir / "features_atlas.parquet", title="t")
    call, (info, columns) = js_args(site / "data" / "atlas.js")
    assert (
        call == "SAE_DASHBOARD.loadAtlas"
        and info["n_latents"] == 200
        and info["chunk_size"] == CHUNK_SIZE
    )
    assert (
        columns["id"] == list(range(200))
        and "tokens" not in (site / "data" / "atlas.js").read_text()
    )
    examples = pq.read_table(analysis_dir / "feature_examples.parquet").to_pylist()
    chunk_files = sorted(p.name for p in (site / "data" / "chunks").iterdir())
    assert (
        chunk_files == [f"c{c:05d}.js" for c in info["chunks"]] and len(chunk_files) == 4
    )  # 200 / 64
    row = examples[-1]
    c = row["feature_id"] // CHUNK_SIZE
    call, (num, payload) = js_args(site / "data" / "chunks" / f"c{c:05d}.js")
    assert call == "SAE_DASHBOARD.loadChunk" and num == c
    assert set(payload) <= {str(f) for f in range(c * CHUNK_SIZE, (c + 1) * CHUNK_SIZE)}
    shown = payload[str(row["feature_id"])]
    assert shown["examples"][row["example_rank"]]["tokens"] == json.loads(row["tokens_json"])
    assert (
        sum(shown["histogram"]["counts"])
        == pq.read_table(analysis_dir / "features_atlas.parquet")
        .column("total_activations")[row["feature_id"]]
        .as_py()
    )
    # a rebuild replaces its own earlier output
    build_dashboard(site, analysis_dir / "features_atlas.parquet")
    assert (site / "index.html").is_file()


def test_refuses_to_replace_a_folder_it_did_not_build(analysis_dir, tmp_path):
    other = tmp_path / "mine"
    other.mkdir()
    (other / "thesis.tex").write_text("precious")
    with pytest.raises(FileExistsError, match="not a dashboard built here"):
        build_dashboard(other, analysis_dir / "features_atlas.parquet")
    assert (other / "thesis.tex").read_text() == "precious"
    link = tmp_path / "link"
    link.symlink_to(other)
    with pytest.raises(FileExistsError):
        build_dashboard(link, analysis_dir / "features_atlas.parquet")
    assert not list(tmp_path.glob(".*-*"))  # no temporary build folder left behind
    with pytest.raises(ValueError, match="not a feature atlas"):
        build_dashboard(tmp_path / "x", analysis_dir / "feature_examples.parquet")


def test_legend_rows_and_map_method_reach_the_page_data(analysis_dir, tmp_path):
    atlas = pq.read_table(analysis_dir / "features_atlas.parquet")
    assert atlas.schema.metadata[b"sae.map_method"] == b"pca"
    xs, ys = atlas.column("x").to_pylist(), atlas.column("y").to_pylist()
    clusters = atlas.column("cluster_id").to_pylist()
    big = max(set(clusters), key=clusters.count)
    members = [i for i, c in enumerate(clusters) if c == big]
    labels = [
        {
            "x": sum(xs[i] for i in members) / len(members),
            "y": sum(ys[i] for i in members) / len(members),
            "text": "the big one",
            "priority": len(members),
        },
        {"x": 1e6, "y": 1e6, "text": "far from every cluster", "priority": 1},
        {"text": "no coordinates"},
    ]
    (tmp_path / "labels.json").write_text(json.dumps(labels))
    site = build_dashboard(
        tmp_path / "site",
        analysis_dir / "features_atlas.parquet",
        cluster_labels_path=tmp_path / "labels.json",
    )
    _, (info, _) = js_args(site / "data" / "atlas.js")
    assert info["map_method"] == "pca"
    assert sorted(r["id"] for r in info["clusters"]) == sorted(set(clusters))
    assert {r["id"]: r["n"] for r in info["clusters"]} == {
        c: clusters.count(c) for c in set(clusters)
    }
    named = {r["id"]: r["label"] for r in info["clusters"] if r["label"]}
    assert named == {big: "the big one"}  # the far label matches no cluster
    assert info["unclustered"] == 0
    assert [r["n"] for r in info["clusters"]] == sorted(
        (r["n"] for r in info["clusters"]), reverse=True
    )
