"""Behaviour of the reference-named analysis, collector and autointerp API on a real TopK SAE."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pq = pytest.importorskip("pyarrow.parquet")

from sae import (  # noqa: E402
    AnthropicClient,
    AutoInterpreter,
    ClusterInfo,
    FeatureGeometry,
    FeatureSampler,
    LLMClient,
    LLMResponse,
    OpenAICompatibleClient,
    TokenActivationCollector,
    build_cluster_label_prompt,
    compute_cluster_centroids,
    compute_feature_logits,
    compute_feature_stats,
    export_text_features_parquet,
    save_cluster_labels,
    save_feature_atlas,
)
from sae.analysis import compute_feature_map, decoder_directions  # noqa: E402
from sae.architectures import TopKSAE  # noqa: E402

ATLAS_COLUMNS = [
    "feature_id", "label", "activation_freq", "mean_activation", "max_activation",
    "std_activation", "total_activations", "log_frequency", "x", "y", "cluster_id",
]  # fmt: skip


@pytest.fixture(scope="module")
def sae_and_data():
    torch.manual_seed(1)
    sae = TopKSAE(10, 32, 4).eval()
    x = torch.randn(300, 10)
    with torch.no_grad():
        codes = sae.encode(x)
    return sae, x, codes


def test_compute_feature_stats_matches_brute_force(sae_and_data, tmp_path):
    sae, x, codes = sae_and_data
    stats, top = compute_feature_stats(
        sae, x, top_k=3, batch_size=64, output_dir=tmp_path, show_progress=False
    )
    assert [s.total_activations for s in stats] == (codes > 0).sum(0).tolist()
    for f in (0, 7, 31):
        want = codes[:, f].topk(3)
        got = [t for t in top if t.feature_id == f]
        positive = [
            i for v, i in zip(want.values.tolist(), want.indices.tolist(), strict=True) if v > 0
        ]
        assert [t.example_idx for t in got] == positive
    assert pq.read_table(tmp_path / "feature_stats.parquet").num_rows == 32
    # an iterable of batches gives the same answer as a tensor
    stats2, top2 = compute_feature_stats(sae, list(x.split(50)), top_k=3, show_progress=False)
    assert [s.total_activations for s in stats2] == [s.total_activations for s in stats]
    np.testing.assert_allclose(
        [s.std_activation for s in stats2], [s.std_activation for s in stats]
    )
    assert [(t.feature_id, t.example_idx) for t in top2] == [
        (t.feature_id, t.example_idx) for t in top
    ]


def test_collector_and_text_export(sae_and_data, tmp_path):
    sae, x, codes = sae_and_data
    texts = [(i, i + n) for i, n in zip(range(0, 300, 30), [30] * 10, strict=True)]

    def encode_fn(span):
        a, b = span
        return [f"t{i}" for i in range(a, b)], codes[a:b]

    res = TokenActivationCollector(encode_fn, 32, top_k_tokens=5, store_token_codes=True).collect(
        texts, show_progress=False
    )
    assert res.total_tokens == 300 and res.total_texts == 10
    torch.testing.assert_close(res.text_codes[2], codes[60:90].max(0).values)
    f = int((codes > 0).sum(0).argmax())
    best = res.token_examples[f][0]
    row = int(codes[:, f].argmax())
    assert (best.text_idx, best.position, best.token_label) == (row // 30, row % 30, f"t{row}")
    export_text_features_parquet(res, tmp_path, n_examples=2)
    meta = pq.read_table(tmp_path / "feature_metadata.parquet")
    ex = pq.read_table(tmp_path / "feature_examples.parquet")
    assert meta.column_names[:6] == [
        "feature_id",
        "description",
        "activation_freq",
        "max_activation",
        "top_positive_logits_json",
        "top_negative_logits_json",
    ]
    assert ex.column_names == [
        "feature_id",
        "example_rank",
        "text_idx",
        "max_activation",
        "tokens_json",
    ]
    assert ex.column("feature_id").to_pylist() == sorted(ex.column("feature_id").to_pylist())
    first = next(r for r in ex.to_pylist() if r["feature_id"] == f and r["example_rank"] == 0)
    tokens = json.loads(first["tokens_json"])
    assert first["text_idx"] == row // 30 and tokens[row % 30]["token"] == f"t{row}"
    assert tokens[row % 30]["activation"] == pytest.approx(float(codes[row, f]), abs=1e-4)


def test_atlas_columns_clusters_and_labels(sae_and_data, tmp_path):
    sae, x, _ = sae_and_data
    stats, top = compute_feature_stats(sae, x, top_k=2, show_progress=False)
    geo = compute_feature_map(sae, n_clusters=3, method="pca")
    assert geo.method == "pca" and set(geo.cluster_ids.tolist()) <= {0, 1, 2}
    # PCA coordinates: projections of the centred unit directions on the top-2 components
    d = decoder_directions(sae)
    d = d / np.linalg.norm(d, axis=1, keepdims=True)
    c = d - d.mean(0)
    _, _, vt = np.linalg.svd(c, full_matrices=False)
    np.testing.assert_allclose(np.abs(geo.umap_x), np.abs(c @ vt[0]), rtol=1e-3, atol=1e-5)
    save_feature_atlas(
        stats, geo, tmp_path / "a.parquet", top_examples=top, extra_columns={"z": list(range(32))}
    )
    t = pq.read_table(tmp_path / "a.parquet")
    assert t.column_names == ATLAS_COLUMNS + ["top_example_idx", "top_example_activation", "z"]
    with pytest.raises(ValueError, match="labels has 1 items"):
        save_feature_atlas(stats, geo, tmp_path / "b.parquet", labels=["x"])
    geo2 = FeatureGeometry(
        np.arange(5), np.array([0, 1, 2, 10, 11.0]), np.zeros(5), np.array([0, 0, -1, 1, 0])
    )
    clusters = compute_cluster_centroids(geo2)
    assert [(c.cluster_id, c.size, c.feature_ids) for c in clusters] == [
        (0, 3, [0, 1, 4]),
        (1, 1, [3]),
    ]
    assert clusters[0].x == pytest.approx(4.0)
    save_cluster_labels(clusters, ["alpha", "beta"], tmp_path / "labels.json")
    assert json.loads((tmp_path / "labels.json").read_text())[0] == {
        "x": 4.0,
        "y": 0.0,
        "text": "alpha",
        "priority": 3,
    }
    prompt = build_cluster_label_prompt(ClusterInfo(0, 0, 0, [1, 2], 2), {1: "helix"}, stats)
    assert "Feature 1" in prompt and "helix" in prompt and "Feature 2" in prompt


def test_feature_logits_are_decoder_projections(sae_and_data):
    sae = sae_and_data[0]
    unemb = torch.randn(7, 10)
    vocab = list("ABCDEFG")
    out = compute_feature_logits(sae, unemb, vocab, top_k=2)
    effects = unemb @ torch.from_numpy(decoder_directions(sae)).T
    col = effects[:, 5]
    assert [t for t, _ in out[5].top_positive] == [vocab[i] for i in col.topk(2).indices]
    assert [t for t, _ in out[5].top_negative] == [vocab[i] for i in (-col).topk(2).indices]
    assert out[5].top_negative[0][1] == pytest.approx(float(col.min()))


class EchoClient(LLMClient):
    """A local client: answers with the feature number it finds in the prompt."""

    def __init__(self):
        self.prompts: list[str] = []

    def generate(self, prompt: str) -> LLMResponse:
        self.prompts.append(prompt)
        n = re.search(r"feature (\d+)", prompt, re.IGNORECASE).group(1)
        return LLMResponse(
            text=f"  Fires on thing {n}.  \n", model="echo", usage={"input_tokens": len(prompt)}
        )


def test_autointerp_with_a_sampler_and_with_a_collector(sae_and_data, tmp_path):
    sae, x, codes = sae_and_data
    per_item = codes[:40]
    sampler = FeatureSampler(
        per_item, [f"item{i}" for i in range(40)], lambda d, a, idx: f"<{d}>", n_high=3, n_low=2
    )
    client = EchoClient()
    results = AutoInterpreter(client, max_workers=3).interpret_features(
        sampler=sampler, feature_indices=[4, 9, 2], show_progress=False
    )
    assert [r.feature_idx for r in results] == [4, 9, 2]
    assert [r.description for r in results] == [
        "Fires on thing 4.",
        "Fires on thing 9.",
        "Fires on thing 2.",
    ]
    top_item = int(per_item[:, 4].argmax())
    assert f"<item{top_item}>" in next(p for p in client.prompts if "feature 4 " in p)
    AutoInterpreter.save_results(results, tmp_path / "interp.json")
    assert AutoInterpreter.load_results(tmp_path / "interp.json") == results

    def encode_fn(i):
        return [c for c in "ACDEFGHIKL"], codes[i * 10 : i * 10 + 10]

    coll = TokenActivationCollector(encode_fn, 32, top_k_tokens=4, store_token_codes=True).collect(
        range(30), show_progress=False
    )
    f = int((codes > 0).sum(0).argmax())
    out = AutoInterpreter(client).interpret_features(
        collector=coll, feature_indices=[f], show_progress=False
    )
    prompt = client.prompts[-1]
    ex = coll.token_examples[f][0]
    assert f"**[{ex.token_label}]**" in prompt and out[0].n_high_examples >= 1
    with pytest.raises(ValueError, match="feature_indices"):
        AutoInterpreter(client).interpret_features(sampler=sampler)
    with pytest.raises(ValueError, match="sampler"):
        AutoInterpreter(client).interpret_features(feature_indices=[1])


def test_clients_name_the_missing_key(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("NIM_TEST_KEY", raising=False)
    with pytest.raises(ValueError, match="ANTHROPIC_API_KEY"):
        AnthropicClient()
    with pytest.raises(ValueError, match="NIM_TEST_KEY"):
        OpenAICompatibleClient(api_key_env="NIM_TEST_KEY")


def test_umap_paths_need_umap_learn(sae_and_data):
    try:
        import umap  # noqa: F401
    except ImportError:
        from sae import compute_feature_umap

        with pytest.raises(ImportError, match="umap-learn"):
            compute_feature_umap(sae_and_data[0])
        with pytest.raises(ImportError, match="umap-learn"):
            compute_feature_map(sae_and_data[0], method="umap")
        assert compute_feature_map(sae_and_data[0]).method == "pca"  # auto falls back
    else:
        geo = compute_feature_map(sae_and_data[0], n_clusters=2)
        assert geo.method == "umap" and len(geo.umap_x) == 32
