"""TopKSAE / ReLUSAE: shapes, sparsity, decoding paths, loss terms, AuxK, dead stats, pre-bias."""

from __future__ import annotations

import pytest
import torch
from sae.architectures import ReLUSAE, TopKSAE, build_from_config, geometric_median


def _sae(**kw):
    torch.manual_seed(0)
    args = {"input_dim": 16, "hidden_dim": 64, "top_k": 4}
    args.update(kw)
    return TopKSAE(**args)


def test_forward_shapes_and_sparsity():
    sae = _sae()
    x = torch.randn(10, 16)
    recon, codes = sae(x)
    assert recon.shape == (10, 16) and codes.shape == (10, 64)
    assert ((codes > 0).sum(-1) <= 4).all() and (codes >= 0).all()
    assert torch.allclose(sae.encode(x), codes)
    assert torch.allclose(sae.decode(codes), recon, atol=1e-5)


def test_default_normalize_input_is_false():
    assert TopKSAE(8, 32, 4).normalize_input is False


def test_sparse_and_dense_decode_agree_with_gradients():
    x = torch.randn(32, 16)
    a, b = (
        _sae(auxk=8, dead_tokens_threshold=1),
        _sae(auxk=8, dead_tokens_threshold=1, sparse_decode=False),
    )
    b.load_state_dict(a.state_dict())
    la, lb = a.loss(x), b.loss(x)
    la["total"].backward()
    lb["total"].backward()
    assert torch.allclose(la["total"], lb["total"], atol=1e-6)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.allclose(pa.grad, pb.grad, atol=1e-5)


def test_post_step_unit_norm_decoder():
    sae = _sae()
    with torch.no_grad():
        sae.W_dec.mul_(3.0)
    sae.post_step()
    assert torch.allclose(sae.W_dec.norm(dim=1), torch.ones(64), atol=1e-6)


def test_loss_keys_and_fvu_definition():
    sae = _sae()
    x = torch.randn(50, 16)
    out = sae.loss(x)
    assert set(out) >= {"total", "fvu", "mse", "variance_explained", "dead_pct", "aux"}
    recon, _ = sae(x)
    fvu = ((x - recon) ** 2).sum() / ((x - x.mean(0)) ** 2).sum()
    assert torch.allclose(out["fvu"], fvu, atol=1e-5)
    assert torch.allclose(out["variance_explained"], 1 - fvu, atol=1e-5)
    assert torch.allclose(out["mse"], ((x - recon) ** 2).mean(), atol=1e-6)


def test_aggregate_loss_changes_objective():
    x = torch.randn(50, 16) * torch.linspace(0.01, 3, 50)[:, None]
    per_token, agg = _sae(), _sae(aggregate_loss=True)
    assert torch.allclose(agg.loss(x)["total"], agg.loss(x)["fvu"])
    assert not torch.allclose(per_token.loss(x)["total"], agg.loss(x)["total"])


def test_dead_stats_and_auxk_revive_dead_latents():
    sae = _sae(auxk=16, dead_tokens_threshold=20)
    x = torch.randn(8, 16)
    sae.eval()
    assert float(sae.loss(x)["dead_pct"]) == 0.0
    sae.train()
    sae.loss(x)
    fired = (sae(x)[1] > 0).any(0)
    assert (sae.tokens_since_fired[~fired] == 8).all()
    assert (sae.tokens_since_fired[fired] == 0).all()
    for _ in range(3):
        out = sae.loss(x)
    assert float(out["dead_pct"]) == pytest.approx(100.0 * (~fired).sum().item() / 64)
    assert float(out["aux"]) > 0
    out["total"].backward()
    dead = sae.dead_mask
    assert sae.encoder.weight.grad[dead].abs().sum() > 0  # AuxK reaches dead latents


def test_dead_count_global_is_noop_at_world_size_one():
    a, b = _sae(dead_tokens_threshold=5), _sae(dead_tokens_threshold=5, dead_count_global=True)
    a.train(), b.train()
    x = torch.randn(12, 16)
    for _ in range(3):
        a.loss(x), b.loss(x)
    assert torch.equal(a.tokens_since_fired, b.tokens_since_fired)


def test_eval_mode_does_not_update_dead_stats():
    sae = _sae().eval()
    sae.loss(torch.randn(8, 16))
    assert int(sae.tokens_since_fired.sum()) == 0


def test_geometric_median_resists_outliers():
    pts = torch.cat([torch.randn(200, 3) * 0.1 + 1.0, torch.full((20, 3), 100.0)])
    med = geometric_median(pts)
    assert torch.allclose(med, torch.ones(3), atol=0.1)
    assert pts.mean(0)[0] > 9  # the mean is dragged away; the median is not


def test_init_pre_bias_normalised_space():
    x = torch.randn(300, 16) * 5 + 7
    plain, norm = _sae(), _sae(normalize_input=True)
    plain.init_pre_bias_from_data(x)
    norm.init_pre_bias_from_data(x)
    assert torch.allclose(plain.pre_bias, torch.full((16,), 7.0), atol=1.0)
    assert norm.pre_bias.abs().max() < 1.0  # per-token standardised data is centred
    with pytest.raises(ValueError, match=r"\[n, 16\]"):
        plain.init_pre_bias_from_data(torch.randn(4, 3))


def test_normalize_input_reconstructs_in_input_space():
    # per-token standardisation makes recon equivariant to per-token scale and shift
    sae = _sae(normalize_input=True).eval()
    x = torch.randn(20, 16)
    with torch.no_grad():
        recon, codes = sae(x)
        recon2, codes2 = sae(x * 50 + 10)
    assert torch.allclose(codes, codes2, atol=1e-4)
    assert torch.allclose(recon2, recon * 50 + 10, atol=1e-3)


@pytest.mark.parametrize(
    "kw, match", [({"top_k": 64}, "top_k"), ({"top_k": 0}, "top_k"), ({"auxk": 65}, "auxk")]
)
def test_invalid_sizes(kw, match):
    with pytest.raises(ValueError, match=match):
        _sae(**kw)


def test_config_roundtrip():
    sae = _sae(auxk=8, normalize_input=True, aggregate_loss=True)
    clone = build_from_config(sae.config_dict())
    assert clone.config_dict() == sae.config_dict()


def test_topk_training_reduces_fvu():
    torch.manual_seed(0)
    basis = torch.randn(32, 16)
    codes = torch.relu(torch.randn(2000, 32)) * (torch.rand(2000, 32) < 0.1)
    x = codes @ basis
    sae = _sae(hidden_dim=64, top_k=6)
    sae.init_pre_bias_from_data(x[:500])
    opt = torch.optim.Adam(sae.parameters(), lr=1e-2)
    first = float(sae.loss(x)["fvu"])
    for _ in range(60):
        loss = sae.loss(x[torch.randint(0, 2000, (256,))])["total"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        sae.post_step()
    assert float(sae.loss(x)["fvu"]) < 0.5 * first


def test_relu_sae_l1_trains():
    torch.manual_seed(0)
    sae = ReLUSAE(16, 64, l1_coeff=1e-3)
    x = torch.randn(500, 16)
    opt = torch.optim.Adam(sae.parameters(), lr=1e-2)
    first = float(sae.loss(x)["total"].detach())
    for _ in range(40):
        loss = sae.loss(x)["total"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        sae.post_step()
    out = sae.loss(x)
    assert float(out["total"].detach()) < first and float(out["aux"]) > 0
    recon, codes = sae(x)
    assert (codes >= 0).all() and recon.shape == x.shape
