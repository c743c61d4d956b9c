"""sae.eval: reconstruction metrics, AUROC/probing, loss recovered on a tiny HF ESM model."""

from __future__ import annotations

import itertools
import json
from contextlib import nullcontext

import numpy as np
import pytest
import torch
from sae import ActivationStore, ActivationStoreConfig, TopKSAE, evaluate_sae
from sae.eval import (
    DeadLatentTracker,
    auroc,
    compute_loss_recovered,
    compute_reconstruction_metrics,
    counter_dead_pct,
    evaluate_loss_recovered,
    evaluate_reconstruction,
    evaluate_sparsity,
    loss_recovered,
    probe_features,
    replace_output,
)
from torch import nn


class Identity(nn.Module):
    """A perfect 'SAE': reconstruction = input, codes = relu(input)."""

    def forward(self, x):
        return x, torch.relu(x)


def test_reconstruction_and_sparsity_match_definitions(tmp_path):
    torch.manual_seed(0)
    x = torch.randn(300, 8) * 2 + 1
    sae = TopKSAE(8, 32, top_k=3, dead_tokens_threshold=10).eval()
    sae.loss(x[:20])  # train-mode counters stay 0; set some by hand below
    with torch.no_grad():
        recon, codes = sae(x)
    whole = compute_reconstruction_metrics(x, recon)
    mse = float(((x - recon) ** 2).double().mean())
    assert whole.mse == pytest.approx(mse, rel=1e-6)
    var = torch.var(x, dim=0).sum()
    assert whole.variance_explained == pytest.approx(
        float(1 - torch.var(x - recon, dim=0).sum() / var), rel=1e-6
    )
    assert whole.normalized_mse == pytest.approx(mse / float(torch.var(x)), rel=1e-5)
    # streamed in one batch == the whole-tensor figures; in batches of 100, per-batch variances
    one = evaluate_reconstruction(sae, x, batch_size=300)
    assert one.variance_explained == pytest.approx(whole.variance_explained, rel=1e-5)
    streamed = evaluate_reconstruction(sae, x, batch_size=100)
    parts = [
        compute_reconstruction_metrics(x[i : i + 100], recon[i : i + 100]) for i in (0, 100, 200)
    ]
    assert streamed.mse == pytest.approx(mse, rel=1e-6)
    batch_var = sum(float(torch.var(x[i : i + 100], dim=0).sum()) for i in (0, 100, 200)) / 3
    assert streamed.normalized_mse == pytest.approx(mse / (batch_var / 8), rel=1e-5)
    assert min(p.mse for p in parts) <= streamed.mse <= max(p.mse for p in parts)
    # the same numbers from a store (extension)
    ActivationStore(tmp_path / "s", ActivationStoreConfig(shard_size=100)).save(x)
    from_store = evaluate_reconstruction(sae, ActivationStore(tmp_path / "s"), batch_size=100)
    assert from_store.mse == pytest.approx(streamed.mse, rel=1e-5)
    ident = evaluate_reconstruction(Identity(), x)
    assert ident.mse == 0.0 and ident.variance_explained == pytest.approx(1.0)

    sae.stats_last_nonzero.copy_(torch.arange(32) % 4 * 5)  # 0, 5, 10, 15, ...: 8 of 32 > 10
    sp = evaluate_sparsity(sae, x, batch_size=64)
    assert sp.mean_l0 == pytest.approx(float((codes != 0).sum(-1).float().mean()))
    assert sp.features_used == int((codes != 0).any(0).sum()) == 32 - sp.features_unused
    assert sp.n_eval_tokens == 300 and sp.n_features == 32
    assert (sp.n_dead, sp.dead_pct, sp.dead_tokens_threshold) == (8, 25.0, 10)
    assert counter_dead_pct(sae) == 25.0


def test_dead_latent_tracker_window():
    tracker = DeadLatentTracker(6)
    tracker.update(torch.tensor([[0.0, 1, 0, 0, 0, 0], [0, 0, 0.5, 0, 0, 0.0005]]))
    stats = tracker.get_stats()
    assert (stats["n_dead"], stats["n_total"], stats["avg_nonzero"]) == (4, 6, 1.0)
    tracker.reset()
    assert tracker.get_stats()["dead_pct"] == 100.0


def test_auroc_matches_pairwise_definition():
    rng = np.random.default_rng(0)
    scores = np.round(rng.standard_normal((60, 3)), 1)  # ties on purpose
    labels = rng.random(60) < 0.4
    got = auroc(scores, labels)
    for j in range(3):
        pos, neg = scores[labels, j], scores[~labels, j]
        pairs = [(p > n) + 0.5 * (p == n) for p, n in itertools.product(pos, neg)]
        assert got[j] == pytest.approx(np.mean(pairs))
    assert np.isnan(auroc(scores, np.zeros(60, bool))).all()


def test_probe_finds_planted_feature_with_string_labels():
    rng = np.random.default_rng(1)
    labels = "".join(rng.choice(list("HEC"), size=600))
    codes = rng.random((600, 20)) * 0.1
    lab = np.array(list(labels))
    codes[:, 7] += lab == "H"  # feature 7 = helix detector
    codes[:, 12] += lab == "E"
    out = probe_features(torch.tensor(codes, dtype=torch.float32), labels, seed=0)
    assert out["per_class"]["H"]["feature"] == 7 and out["per_class"]["E"]["feature"] == 12
    assert out["per_class"]["H"]["test_auroc"] == pytest.approx(1.0)
    assert out["n_train"] + out["n_test"] == 600
    binary = probe_features(codes, lab == "H")
    assert binary["per_class"]["True"]["feature"] == 7
    with pytest.raises(ValueError, match="labels"):
        probe_features(codes, labels[:10])


def _tiny_esm():
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    cfg = transformers.EsmConfig(
        vocab_size=33,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        pad_token_id=1,
        mask_token_id=32,
        position_embedding_type="absolute",
    )
    model = transformers.EsmForMaskedLM(cfg)
    # a few steps on an unmasked copy task, so the residual stream carries what the loss needs
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(1)
    for _ in range(30):
        ids = torch.randint(4, 24, (8, 20), generator=g)
        loss = model(input_ids=ids, labels=ids).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


@pytest.mark.e2e  # a tiny ESM2 forward pass per batch: out of the quick path, in CI
def test_loss_recovered_on_tiny_esm(tmp_path):
    model = _tiny_esm()
    g = torch.Generator().manual_seed(0)
    batches = [torch.randint(4, 24, (4, 20), generator=g) for _ in range(2)]
    layer = model.esm.encoder.layer[0]  # layer L=1 -> block index 0

    def run_loss(ids):
        return model(input_ids=ids, labels=ids).loss.item()

    perfect = loss_recovered(Identity(), layer, run_loss, batches)
    assert perfect["ce_zero"] != pytest.approx(perfect["ce_orig"])
    assert perfect["loss_recovered"] == pytest.approx(1.0, abs=1e-5)
    assert perfect["ce_sae"] == pytest.approx(perfect["ce_orig"], abs=1e-5)

    # a real SAE, briefly trained on that layer's activations
    with torch.no_grad():
        acts = torch.cat(
            [
                model(input_ids=b, output_hidden_states=True).hidden_states[1].reshape(-1, 32)
                for b in batches
            ]
        )
    torch.manual_seed(0)
    sae = TopKSAE(32, 128, top_k=8)
    sae.init_pre_bias_from_data(acts)
    opt = torch.optim.Adam(sae.parameters(), lr=5e-3)
    for _ in range(100):
        loss = sae.loss(acts)["total"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        sae.post_step()

    # the shared-library API: model-specific callables, the layer replaced by a hook
    def get_hiddens(ids):
        return model(input_ids=ids, output_hidden_states=True).hidden_states[1]

    def compute_ce(ids, override):
        ctx = replace_output(layer, lambda h: override) if override is not None else nullcontext()
        with ctx:
            logits = model(input_ids=ids).logits
        ce = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids.reshape(-1))
        return float(ce) * ids.numel(), ids.numel()

    labels = batches[0].reshape(-1).tolist() + batches[1].reshape(-1).tolist()
    res = evaluate_sae(
        sae,
        acts,
        batch_size=64,
        loss_recovered_fn=lambda: evaluate_loss_recovered(
            sae, batches, get_hiddens, compute_ce, device="cpu", show_progress=False
        ),
        custom_metrics={"probing": lambda: probe_features(sae.encode(acts).detach(), labels)},
    )
    lr = res.loss_recovered
    assert lr.ce_zero > 2.0 and lr.ce_original < 0.5 and lr.n_tokens == 160
    assert lr.ce_sae < lr.ce_zero
    assert 0.5 < lr.loss_recovered <= 1.0
    assert lr.loss_recovered == pytest.approx(
        min(1.0, compute_loss_recovered(lr.ce_original, lr.ce_sae, lr.ce_zero))
    )
    hooked = loss_recovered(sae, layer, run_loss, batches)  # the extension agrees
    assert hooked["ce_sae"] == pytest.approx(lr.ce_sae, rel=1e-4)
    assert res.reconstruction.variance_explained > 0.5 and res.sparsity.mean_l0 <= 8
    res.save(tmp_path / "report.json")
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["loss_recovered"]["loss_recovered"] == pytest.approx(lr.loss_recovered)
    assert saved["sparsity"]["mean_l0"] == pytest.approx(res.sparsity.mean_l0)
    assert "per_class" in saved["probing"]
    # the hook is removed afterwards: clean loss unchanged
    assert run_loss(batches[0]) == pytest.approx(
        model(input_ids=batches[0], labels=batches[0]).loss.item()
    )


def test_replace_output_handles_tensor_tuple_and_dict_outputs():
    from sae.eval import replace_output

    class Out(nn.Module):
        def __init__(self, kind):
            super().__init__()
            self.kind = kind

        def forward(self, x):
            if self.kind == "tensor":
                return x
            if self.kind == "tuple":
                return (x, "extra")
            return {"hidden": x, "other": 1}

    x = torch.ones(2, 3)
    for kind in ("tensor", "tuple", "dict"):
        mod = Out(kind)
        with replace_output(mod, torch.zeros_like):
            out = mod(x)
        first = out if kind == "tensor" else (out[0] if kind == "tuple" else out["hidden"])
        assert torch.equal(first, torch.zeros(2, 3))
        after = mod(x)
        first = after if kind == "tensor" else (after[0] if kind == "tuple" else after["hidden"])
        assert torch.equal(first, x)  # hook removed
