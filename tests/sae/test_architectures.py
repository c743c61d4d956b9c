"""sae.architectures: TopKSAE's sparse training step equals a plain dense implementation
(losses, gradients, dead-latent counters), plus layout, state dict, loading, ReLU and MoE."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from sae.architectures import (
    MoESAE,
    ReLUSAE,
    TopKSAE,
    build_from_config,
    geometric_median,
    load_sae,
)
from sae.kernels import TritonDecoderAutograd, reference_decode
from sae.kernels.reference import reference_topk_loss
from sae.kernels.sparse_ops import sampled_rows_dot, scatter_rows_sum

REF_KEYS = {
    "pre_bias": (16,),
    "encoder.weight": (64, 16),
    "latent_bias": (64,),
    "decoder.weight": (16, 64),
    "stats_last_nonzero": (64,),
}


def _sae(**kw):
    torch.manual_seed(0)
    args = {"input_dim": 16, "hidden_dim": 64, "top_k": 4}
    args.update(kw)
    return TopKSAE(**args)


@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("auxk", [None, 8])
@pytest.mark.parametrize("aggregate", [False, True])
def test_sparse_step_matches_dense_definition(normalize, auxk, aggregate):
    torch.manual_seed(3)
    x = torch.randn(48, 16) * 2 + 0.5
    fast = _sae(normalize_input=normalize, auxk=auxk, aggregate_loss=aggregate,
                dead_tokens_threshold=40)  # fmt: skip
    slow = _sae(normalize_input=normalize, auxk=auxk, aggregate_loss=aggregate,
                dead_tokens_threshold=40)  # fmt: skip
    slow.load_state_dict(fast.state_dict())
    with torch.no_grad():
        fast.pre_bias.normal_()
        slow.pre_bias.copy_(fast.pre_bias)
    stats = torch.zeros(64, dtype=torch.long)
    for step in range(3):  # steps 2-3 have dead latents (> 40 tokens idle)
        out = fast.loss(x)
        total, aux, stats = reference_topk_loss(slow, x, stats)
        assert torch.equal(fast.stats_last_nonzero, stats)
        torch.testing.assert_close(out["total"], total, atol=1e-5, rtol=1e-5)
        if auxk is not None:
            torch.testing.assert_close(out["aux"], aux, atol=1e-5, rtol=1e-5)
            if step > 0:
                assert float(out["dead_pct"]) > 0 and float(aux.detach()) > 0
        else:
            assert "aux" not in out
        out["total"].backward()
        total.backward()
        for (name, a), b in zip(fast.named_parameters(), slow.parameters(), strict=True):
            torch.testing.assert_close(a.grad, b.grad, atol=1e-5, rtol=1e-4, msg=name)
            a.grad = b.grad = None


def test_loss_metrics_match_reference_definitions():
    sae = _sae(normalize_input=True)
    x = torch.randn(40, 16)
    out = sae.loss(x)
    recon, codes = sae(x)
    ve = 1 - torch.var(recon - x, dim=0).sum() / (torch.var(x, dim=0).sum() + 1e-8)
    torch.testing.assert_close(out["variance_explained"], ve, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(out["fvu"], 1 - ve, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(out["mse"], (recon - x).pow(2).mean(), atol=1e-6, rtol=1e-5)
    assert float(out["sparsity"]) == float((codes != 0).float().sum(-1).mean())
    assert set(out) == {"total", "fvu", "sparsity", "mse", "variance_explained", "dead_pct", "l0"}
    assert torch.allclose(sae.forward_with_aux(x)["recon"], recon)


def test_reference_defaults():
    m = TopKSAE(8, 32, 4)
    assert m.normalize_input is True and m.auxk is None and m.auxk_coef == 1 / 32
    assert m.dead_tokens_threshold == 10_000_000 and m.decoder_impl == "dense"
    r = ReLUSAE(8, 32)
    assert r.l1_coeff == 1e-2 and r.normalize_input is True
    with pytest.raises(ValueError, match="decoder_impl"):
        TopKSAE(8, 32, 4, decoder_impl="cuda")


def test_state_dict_has_reference_keys_and_layout_survives():
    sae = _sae()
    sd = sae.state_dict()
    assert {k: tuple(v.shape) for k, v in sd.items()} == REF_KEYS
    assert sae.decoder.weight.t().is_contiguous()  # latent-major storage for sparse decode
    other = _sae()
    torch.manual_seed(5)
    plain = {k: torch.randn(v.shape) if v.is_floating_point() else v for k, v in sd.items()}
    other.load_state_dict({k: v.contiguous() for k, v in plain.items()})
    assert other.decoder.weight.t().is_contiguous()
    assert torch.equal(other.decoder.weight, plain["decoder.weight"])
    assert other.to(torch.float64).decoder.weight.t().is_contiguous()


def test_post_step_unit_norms_decoder_rows_over_latents():
    sae = _sae()
    with torch.no_grad():
        sae.decoder.weight.mul_(torch.rand(16, 1) * 5)
    sae.post_step()
    assert torch.allclose(sae.decoder.weight.norm(dim=1), torch.ones(16), atol=1e-6)


def test_encoder_init_is_decoder_transpose():
    sae = _sae()
    assert torch.equal(sae.encoder.weight, sae.decoder.weight.t())
    assert torch.equal(sae.W_dec, sae.decoder.weight.t())


def test_dead_counter_threshold_and_update():
    sae = _sae(normalize_input=False)
    codes = torch.zeros(10, 64)
    codes[:, 0] = 1.0
    codes[:, 1] = 5e-4  # below the 1e-3 firing threshold
    sae._update_dead_latent_stats(codes)
    assert int(sae.stats_last_nonzero[0]) == 0 and int(sae.stats_last_nonzero[1]) == 10
    sae._update_dead_latent_stats_from_indices(torch.tensor([[1]]), 7)
    assert int(sae.stats_last_nonzero[1]) == 0 and int(sae.stats_last_nonzero[2]) == 17


def test_decode_function_matches_dense_oracle():
    torch.manual_seed(1)
    idx = torch.rand(20, 50).topk(6, dim=-1).indices
    vals = torch.rand(20, 6, requires_grad=True)
    w = torch.randn(8, 50, requires_grad=True)
    out = TritonDecoderAutograd.apply(idx, vals, w)
    ref = reference_decode(idx, vals, w)
    torch.testing.assert_close(out, ref)
    g = torch.randn_like(out)
    gv, gw = torch.autograd.grad(out, (vals, w), g)
    rv, rw = torch.autograd.grad(ref, (vals, w), g)
    torch.testing.assert_close(gv, rv)
    torch.testing.assert_close(gw, rw)


def test_sparse_ops_sum_repeated_latents():
    idx = torch.tensor([[3, 3, 1], [0, 3, 2]])
    vals = torch.tensor([[1.0, 2.0, 0.5], [1.0, -1.0, 4.0]])
    x = torch.randn(2, 5)
    dense = torch.zeros(2, 4)
    for b in range(2):
        for j in range(3):
            dense[b, idx[b, j]] += vals[b, j]
    torch.testing.assert_close(scatter_rows_sum(idx, vals, x, 4), dense.T @ x)
    w = torch.randn(4, 5)
    torch.testing.assert_close(sampled_rows_dot(idx, x, w), (x @ w.T).gather(1, idx))


def test_fused_adam_steps_latent_major_decoder_like_plain_adam():
    a, b = _sae(), _sae()
    x = torch.randn(32, 16)
    oa = torch.optim.Adam(a.parameters(), lr=1e-2, fused=True)
    ob = torch.optim.Adam(b.parameters(), lr=1e-2, foreach=False)
    for m, o in ((a, oa), (b, ob)):
        m.loss(x)["total"].backward()
        o.step()
        m.post_step()
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pa, pb, atol=1e-6, rtol=1e-5)
    assert a.decoder.weight.t().is_contiguous()


def test_init_pre_bias_from_data_keyword_and_space():
    torch.manual_seed(2)
    data = torch.randn(300, 16) * 3 + 1
    plain, norm = _sae(normalize_input=False), _sae(normalize_input=True)
    plain.init_pre_bias_from_data(data=data)
    norm.init_pre_bias_from_data(data, max_iter=100, eps=1e-6)
    torch.testing.assert_close(plain.pre_bias.data, geometric_median(data))
    xn = (data - data.mean(-1, keepdim=True)) / (data.std(-1, keepdim=True) + 1e-8)
    torch.testing.assert_close(norm.pre_bias.data, geometric_median(xn))


def test_geometric_median_resists_outliers():
    pts = torch.cat([torch.zeros(50, 2), torch.full((5, 2), 100.0)])
    assert geometric_median(pts).norm() < 1.0


def test_checkpoint_loading_both_config_styles(tmp_path):
    sae = _sae(auxk=4, aggregate_loss=True)
    ours = {"model_state_dict": sae.state_dict(), "model_config": sae.config_dict()}
    theirs = {
        "model_state_dict": {f"module.{k}": v for k, v in sae.state_dict().items()},
        "model_config": sae._get_config(),
        "input_dim": 16,
        "hidden_dim": 64,
    }
    for name, ckpt in (("ours.pt", ours), ("theirs.pt", theirs)):
        torch.save(ckpt, tmp_path / name)
        loaded = load_sae(tmp_path / name)
        assert isinstance(loaded, TopKSAE) and loaded._get_config() == sae._get_config()
        assert torch.equal(loaded.decoder.weight, sae.decoder.weight)
    assert isinstance(
        build_from_config({"class": "ReLUSAE", "input_dim": 4, "hidden_dim": 8}), ReLUSAE
    )
    with pytest.raises(ValueError, match="class must be one of"):
        build_from_config({"class": "Nope"})


def test_relu_sae_loss_and_unit_decoder_columns():
    torch.manual_seed(0)
    m = ReLUSAE(16, 64)
    assert torch.allclose(m.decoder.weight.norm(dim=0), torch.ones(64), atol=1e-6)
    x = torch.randn(30, 16)
    out = m.loss(x)
    recon, codes = m(x)
    expected = F.mse_loss(recon, x) + 1e-2 * codes.abs().sum(-1).mean()
    torch.testing.assert_close(out["total"], expected)
    assert {"total", "fvu", "mse", "l1", "sparsity", "variance_explained"} <= set(out)
    out["total"].backward()
    with torch.no_grad():
        m.decoder.weight.mul_(2)
    m.post_step()
    assert torch.allclose(m.decoder.weight.norm(dim=0), torch.ones(64), atol=1e-6)


@pytest.mark.parametrize("mode,shared", [("topk", None), ("relu", 8)])
def test_moe_sae_routing_codes_and_loss(mode, shared):
    torch.manual_seed(0)
    m = MoESAE(16, 64, n_experts=4, k_experts=2, expert_mode=mode, top_k=4, d_shared=shared,
               shared_mode="relu")  # fmt: skip
    x = torch.randn(24, 16)
    info = m.forward_with_aux(x)
    assert info["codes"].shape == (24, 64 + (shared or 0))
    chosen = info["top_indices"]
    for e in range(4):
        block = info["codes"][:, e * 16 : (e + 1) * 16]
        routed = (chosen == e).any(-1)
        assert (block[~routed] == 0).all()
        if mode == "topk":
            assert ((block != 0).sum(-1) <= 4).all()
    out = m.loss(x)
    assert {"total", "fvu", "load_balance", "router_entropy", "expert_util_std"} <= set(out)
    assert ("l1" in out) == (mode == "relu")
    out["total"].sum().backward()
    assert m.router.weight.grad is not None
    assert m.decoder.weight.shape == (16, 64 + (shared or 0))
    m.post_step()
    assert torch.allclose(m.expert_decoders[0].weight.norm(dim=0), torch.ones(16), atol=1e-5)
    assert int(m.expert_update_count) == 1
    assert set(m.get_expert_diagnostics()) == {
        "per_expert_utilization",
        "dead_experts",
        "per_expert_recon_error",
    }
