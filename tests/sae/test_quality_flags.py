"""Opt-in training settings (issue 24): each does what it claims; the defaults stay the reference's.

Covers ``TrainingConfig(unit_norm_latents, project_decoder_grad, pre_bias_init,
dead_tokens_fraction, encoder_init, detach_loss_variance)``, the ``TopKSAE`` methods behind them, and the honest dead-latent fields of
``metrics.jsonl`` (``dead_pct`` is null while the threshold exceeds the tokens seen).
"""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from sae import TopKSAE, Trainer, TrainingConfig, set_seed
from sae.architectures.base import geometric_median, standardize


def _data(n=1200, h=12, seed=0, offset=3.0):
    g = torch.Generator().manual_seed(seed)
    basis = torch.randn(24, h, generator=g)
    codes = torch.relu(torch.randn(n, 24, generator=g)) * (torch.rand(n, 24, generator=g) < 0.2)
    return codes @ basis + offset + 0.01 * torch.randn(n, h, generator=g)


def _model(h=12, n=48, **kw):
    set_seed(0)
    kw.setdefault("auxk", 8)
    kw.setdefault("dead_tokens_threshold", 200)
    return TopKSAE(h, n, top_k=4, **kw)


def _cfg(tmp_path=None, **kw):
    base = dict(
        lr=3e-3, n_epochs=1, batch_size=50, device="cpu", log_interval=1, shuffle=False,
        show_progress=False, checkpoint_dir=str(tmp_path) if tmp_path else None,
    )  # fmt: skip
    base.update(kw)
    return TrainingConfig(**base)


def _rows(tmp_path):
    return [json.loads(s) for s in (tmp_path / "metrics.jsonl").read_text().splitlines()]


def test_defaults_are_the_reference_behaviour(tmp_path):
    fields = {f.name: f.default for f in dataclasses.fields(TrainingConfig)}
    assert fields["unit_norm_latents"] is False and fields["project_decoder_grad"] is False
    assert fields["pre_bias_init"] == "none" and fields["dead_tokens_fraction"] is None
    assert fields["encoder_init"] == "tied" and fields["detach_loss_variance"] is False
    model = _model()
    assert model.unit_norm_latents is False and model.project_decoder_grad is False
    assert model.detach_loss_variance is False
    assert model.decoder.weight._backward_hooks in (None, {})
    Trainer(model, _cfg()).fit(_data())
    # the reference rule: rows of decoder.weight [d, n] unit over the latents, columns free
    w = model.decoder.weight
    assert torch.allclose(w.norm(dim=1), torch.ones(12), atol=1e-5)
    assert not torch.allclose(w.norm(dim=0), torch.ones(48), atol=1e-2)
    assert model.dead_tokens_threshold == 200
    assert "unit_norm_latents" not in model.config_dict()  # model_config: reference keys only


def test_default_training_matches_a_plain_reference_loop():
    x = _data()
    a, b = _model(), _model()
    Trainer(a, _cfg(lr_schedule="constant")).fit(x)
    opt = torch.optim.Adam(b.parameters(), lr=3e-3)
    for i in range(0, 1200, 50):
        out = b.loss(x[i : i + 50])
        opt.zero_grad()
        out["total"].backward()
        opt.step()
        b.post_step()
    for k, v in a.state_dict().items():
        torch.testing.assert_close(v, b.state_dict()[k], rtol=1e-4, atol=1e-5)


def test_unit_norm_latents_keeps_columns_unit_and_encoder_tied():
    model = _model()
    model.use_unit_norm_latents()
    w = model.decoder.weight
    assert torch.allclose(w.norm(dim=0), torch.ones(48), atol=1e-6)
    assert torch.equal(model.encoder.weight, w.t())  # re-copied from the normalised decoder
    with torch.no_grad():
        w.mul_(torch.rand(1, 48) * 4 + 0.1)
    model.post_step()
    assert torch.allclose(w.norm(dim=0), torch.ones(48), atol=1e-6)
    untied = TopKSAE(12, 48, 4, init_encoder_from_decoder=False)
    enc = untied.encoder.weight.detach().clone()
    untied.use_unit_norm_latents()
    assert torch.equal(untied.encoder.weight, enc)  # a separately initialised encoder is kept


def test_unit_norm_latents_through_trainer(tmp_path):
    model = _model()
    Trainer(model, _cfg(unit_norm_latents=True)).fit(_data())
    assert model.unit_norm_latents is True
    assert torch.allclose(model.decoder.weight.norm(dim=0), torch.ones(48), atol=1e-5)


def test_decoder_grad_projection_removes_the_parallel_part_only():
    x = _data(200)
    plain, proj = _model(), _model()
    proj.use_decoder_grad_projection().use_decoder_grad_projection()  # registered once
    for m in (plain, proj):
        m.loss(x)["total"].backward()
    w, g0, g1 = plain.decoder.weight.detach(), plain.decoder.weight.grad, proj.decoder.weight.grad
    unit = w / w.norm(dim=0, keepdim=True)
    assert (g1 * unit).sum(dim=0).abs().max() < 1e-6  # nothing along any latent's direction
    expected = g0 - (g0 * unit).sum(dim=0, keepdim=True) * unit
    torch.testing.assert_close(g1, expected, rtol=1e-5, atol=1e-7)
    assert (g0 * unit).sum(dim=0).abs().max() > 1e-4  # the unprojected gradient had some
    torch.testing.assert_close(proj.encoder.weight.grad, plain.encoder.weight.grad)


def test_grad_projection_through_trainer_then_renormalised_columns(tmp_path):
    model = _model()
    Trainer(model, _cfg(unit_norm_latents=True, project_decoder_grad=True)).fit(_data())
    assert model.project_decoder_grad is True
    assert torch.allclose(model.decoder.weight.norm(dim=0), torch.ones(48), atol=1e-5)


@pytest.mark.parametrize("normalize", [False, True])
def test_pre_bias_init_median_and_mean_of_first_batch(normalize):
    x = _data()
    first = standardize(x[:50])[0] if normalize else x[:50]
    for how, want in (("geometric_median", geometric_median(first)), ("mean", first.mean(0))):
        model = _model(normalize_input=normalize)
        trainer = Trainer(model, _cfg(max_steps=1, lr=1e-12, pre_bias_init=how))
        trainer._init_pre_bias(model, trainer._make_source(x, False), torch.device("cpu"))
        torch.testing.assert_close(model.pre_bias.detach(), want, rtol=1e-5, atol=1e-5)
        assert model.pre_bias.abs().sum() > 0
    plain = _model(normalize_input=normalize)
    Trainer(plain, _cfg(max_steps=1, lr=1e-12)).fit(x)
    assert plain.pre_bias.abs().max() < 1e-6  # default: no init


def test_pre_bias_init_not_redone_on_resume(tmp_path):
    x = _data()
    model = _model()
    Trainer(model, _cfg(tmp_path, checkpoint_steps=5, max_steps=5, pre_bias_init="mean")).fit(x)
    before = model.pre_bias.detach().clone()
    resumed = _model()
    trainer = Trainer(resumed, _cfg(tmp_path / "r", max_steps=5, lr=1e-12, pre_bias_init="mean"))
    with torch.no_grad():
        shifted = x + 100.0  # a re-init would move pre_bias by ~100
    trainer.fit(shifted, resume_from=tmp_path / "checkpoint_step_5.pt")
    assert (resumed.pre_bias - before).abs().max() < 1e-3


def test_dead_tokens_fraction_caps_the_threshold_and_never_raises_it():
    model = _model(dead_tokens_threshold=10_000_000)
    Trainer(model, _cfg(dead_tokens_fraction=0.1)).fit(_data())  # 24 steps x 50 = 1200 tokens
    assert model.dead_tokens_threshold == 120
    low = _model(dead_tokens_threshold=10)
    Trainer(low, _cfg(dead_tokens_fraction=0.5)).fit(_data())
    assert low.dead_tokens_threshold == 10


def test_dead_tokens_fraction_lets_auxk_act():
    x = _data()
    seen = {}
    for frac in (None, 0.05):
        model = _model(dead_tokens_threshold=10_000_000, n=192)
        trainer = Trainer(model, _cfg(dead_tokens_fraction=frac, log_interval=1))
        trainer.fit(x)
        seen[frac] = max(r.get("aux") or 0.0 for r in trainer.history)
    assert seen[None] == 0.0 and seen[0.05] > 0.0


def test_dead_pct_is_null_while_the_threshold_exceeds_the_tokens_seen(tmp_path):
    model = _model(dead_tokens_threshold=10_000_000)
    Trainer(model, _cfg(tmp_path)).fit(_data())
    rows = _rows(tmp_path)
    assert all(r["dead_pct"] is None and r["dead_pct_informative"] is False for r in rows)
    assert all(0.0 <= r["inactive_pct"] <= 100.0 for r in rows)
    assert rows[-1]["inactive_window_tokens"] == 600  # half of the 1200 tokens seen
    assert float(model.loss(_data(50))["dead_pct"]) == 0.0  # the loss keeps the reference field


def test_dead_pct_is_reported_once_the_run_passes_the_threshold(tmp_path):
    model = _model(dead_tokens_threshold=200, n=192)
    Trainer(model, _cfg(tmp_path)).fit(_data())
    rows = _rows(tmp_path)
    early = [r for r in rows if r["step"] * 50 <= 200]
    late = [r for r in rows if r["step"] * 50 > 200]
    assert early and all(r["dead_pct"] is None for r in early)
    assert late and all(r["dead_pct_informative"] is True for r in late)
    assert isinstance(late[-1]["dead_pct"], float)
    assert late[-1]["inactive_window_tokens"] == 200


@pytest.mark.parametrize(
    "kw, field",
    [({"pre_bias_init": "median"}, "pre_bias_init"),
     ({"dead_tokens_fraction": 0.0}, "dead_tokens_fraction"),
     ({"dead_tokens_fraction": 1.5}, "dead_tokens_fraction")],
)  # fmt: skip
def test_bad_values_name_the_field(kw, field):
    with pytest.raises(ValueError, match=field):
        _cfg(**kw)


def test_flags_on_a_model_without_them_fail_clearly():
    from sae import ReLUSAE

    model = ReLUSAE(12, 48)
    with pytest.raises(ValueError, match="unit_norm_latents"):
        Trainer(model, _cfg(unit_norm_latents=True)).fit(_data())
    with pytest.raises(ValueError, match="dead_tokens_fraction"):
        Trainer(ReLUSAE(12, 48), _cfg(dead_tokens_fraction=0.1)).fit(_data())


def test_encoder_init_uniform_draws_linear_init_and_ties_unit_decoder():
    model = _model(normalize_input=False)
    model.init_encoder_uniform_()
    enc = model.encoder.weight.detach()
    assert enc.abs().max() <= 1 / 12**0.5 and enc.abs().max() > 0.5 / 12**0.5
    unit = enc / enc.norm(dim=1, keepdim=True)
    torch.testing.assert_close(model.decoder.weight.t(), unit)


def test_encoder_init_in_training_config_fresh_runs_only(tmp_path):
    with pytest.raises(ValueError, match="encoder_init='kaiming'"):
        _cfg(encoder_init="kaiming")
    assert TrainingConfig().encoder_init == "tied"  # the default keeps the reference's init
    x = _data()
    model = _model(normalize_input=False)
    set_seed(1)
    Trainer(model, _cfg(tmp_path, encoder_init="uniform", unit_norm_latents=True, max_steps=1)).fit(
        x
    )
    set_seed(1)
    expect = _model(normalize_input=False)
    set_seed(1)
    expect.init_encoder_uniform_()
    # one step from the uniform init moves the encoder little; the tied init is far away
    start = expect.encoder.weight.detach()
    moved = (model.encoder.weight.detach() - start).abs().max()
    tied = (_model(normalize_input=False).encoder.weight.detach() - start).abs().max()
    assert moved < 0.1 * tied
    cols = model.decoder.weight.detach().norm(dim=0)
    torch.testing.assert_close(cols, torch.ones_like(cols))


def _independent_fvu_loss(model, x, pre_bias_const: bool):
    """The per-token FVU loss written out from the dense forward: mean_b(mse_b / var_b),
    ``var_b`` the mean square of ``x - pre_bias`` (a constant copy when ``pre_bias_const``)."""
    recon, _ = model(x)
    pb = model.pre_bias.detach().clone() if pre_bias_const else model.pre_bias
    var = (x - pb).pow(2).mean(dim=-1)
    return ((recon - x).pow(2).mean(dim=-1) / (var + 1e-8)).mean()


@pytest.mark.parametrize("flag", [False, True])
def test_detach_loss_variance_gradient_matches_a_constant_denominator(flag):
    x = _data(200)
    model = _model(normalize_input=False, auxk=None)
    with torch.no_grad():
        model.pre_bias.copy_(x.mean(0) + 0.5)  # off the data, so the denominator's pull shows
    if flag:
        assert model.use_detached_loss_variance() is model
    assert model.detach_loss_variance is flag
    out = model.loss(x)["total"]
    out.backward()
    got = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
    model.zero_grad()
    want = _independent_fvu_loss(model, x, pre_bias_const=flag)
    torch.testing.assert_close(out.detach(), want.detach(), rtol=1e-5, atol=1e-7)  # same value
    want.backward()
    for n, p in model.named_parameters():
        torch.testing.assert_close(got[n], p.grad, rtol=1e-4, atol=1e-7, msg=n)
    # the two forms differ only in the pre-bias gradient, and there by the denominator's pull
    model.zero_grad()
    _independent_fvu_loss(model, x, pre_bias_const=not flag).backward()
    assert (got["pre_bias"] - model.pre_bias.grad).abs().max() > 1e-4
    torch.testing.assert_close(got["encoder.weight"], model.encoder.weight.grad)


def test_detach_loss_variance_through_trainer_keeps_pre_bias_near_the_data(tmp_path):
    assert TrainingConfig().detach_loss_variance is False  # default: the reference's gradient
    x = _data(2400, offset=3.0)
    ends = {}
    for flag in (False, True):
        model = _model(normalize_input=False, auxk=None)
        cfg = _cfg(
            detach_loss_variance=flag, n_epochs=4, unit_norm_latents=True, pre_bias_init="mean"
        )
        Trainer(model, cfg).fit(x)
        assert model.detach_loss_variance is flag
        ends[flag] = float((model.pre_bias.detach() - x.mean(0)).norm())
    # both start at the data mean; with the reference's gradient the pre-bias walks away from
    # the data to inflate var_b (2.2 against 0.9 here)
    assert ends[True] < 0.6 * ends[False]
