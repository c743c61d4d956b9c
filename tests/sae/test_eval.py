"""sae.eval: reconstruction metrics, AUROC/probing, loss recovered on a tiny HF ESM model."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch
from sae import ActivationStore, ActivationStoreConfig, TopKSAE, evaluate_sae
from sae.eval import auroc, loss_recovered, probe_features, reconstruction_metrics
from torch import nn


class Identity(nn.Module):
    """A perfect 'SAE': reconstruction = input, codes = relu(input)."""

    def forward(self, x):
        return x, torch.relu(x)


def test_reconstruction_metrics_match_definition(tmp_path):
    torch.manual_seed(0)
    x = torch.randn(300, 8) * 2 + 1
    sae = TopKSAE(8, 32, top_k=3).eval()
    m = reconstruction_metrics(sae, x, batch_size=64)
    with torch.no_grad():
        recon, codes = sae(x)
    err = ((x - recon) ** 2).double().sum()
    fvu = float(err / ((x - x.mean(0)) ** 2).double().sum())
    assert m["fvu"] == pytest.approx(fvu, rel=1e-6)
    assert m["variance_explained"] == pytest.approx(1 - fvu, rel=1e-6)
    assert m["mse"] == pytest.approx(float(err) / x.numel(), rel=1e-6)
    assert m["l0"] == pytest.approx(float((codes > 0).sum(-1).float().mean()))
    assert m["n_dead"] == int(((codes > 0).sum(0) == 0).sum())
    # the same numbers from a store
    ActivationStore(tmp_path / "s", ActivationStoreConfig(shard_size=100)).save(x)
    m2 = reconstruction_metrics(sae, ActivationStore(tmp_path / "s"), batch_size=64)
    assert m2["fvu"] == pytest.approx(m["fvu"], rel=1e-6)
    assert reconstruction_metrics(Identity(), x)["fvu"] == pytest.approx(0.0, abs=1e-12)


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
    res = evaluate_sae(
        sae,
        acts,
        loss_recovered_args={"layer_module": layer, "run_loss": run_loss, "batches": batches},
        probe_codes=acts,
        probe_labels=(batches[0].reshape(-1).tolist() + batches[1].reshape(-1).tolist()),
    )
    lr = res.loss_recovered
    assert lr["ce_zero"] > 2.0 and lr["ce_orig"] < 0.5
    assert lr["ce_sae"] < lr["ce_zero"]
    assert 0.5 < lr["loss_recovered"] <= 1.05
    assert res.variance_explained > 0.5 and res.l0 <= 8
    res.save(tmp_path / "report.json")
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["loss_recovered"]["loss_recovered"] == pytest.approx(lr["loss_recovered"])
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
