"""sae.steering: the clamp hook adds exactly (clamped code - original code) x decoder column,
checked against a hand computation from the SAE's own weights."""

from __future__ import annotations

import pytest
import torch
from sae import TopKSAE
from sae.steering import clamp_hook, steer
from torch import nn


def _sae(normalize_input=False, d=8, n=16, k=4):
    torch.manual_seed(0)
    sae = TopKSAE(d, n, k, normalize_input=normalize_input)
    with torch.no_grad():
        sae.pre_bias.normal_()
        sae.latent_bias.normal_(std=0.1)
    return sae.eval()


def _expected(sae, h, clamps):
    """Oracle: h + sum_f (v_f - code_f(h)) * W_dec[:, f], codes = relu(pre_act) kept where top-k."""
    x_n = h
    if sae.normalize_input:
        mu, sd = h.mean(-1, keepdim=True), h.std(-1, keepdim=True, unbiased=True)
        x_n = (h - mu) / (sd + 1e-5)
    pre = (x_n - sae.pre_bias) @ sae.encoder.weight.t() + sae.latent_bias
    act = torch.relu(pre)
    keep = torch.zeros_like(act, dtype=torch.bool)
    keep.scatter_(-1, act.topk(sae.top_k, dim=-1).indices, True)
    code = torch.where(keep, act, torch.zeros_like(act))
    out = h.clone()
    for f, v in clamps.items():
        out += (v - code[:, f : f + 1]) * sae.decoder.weight[:, f]
    return out, code


def test_clamp_adds_decoder_direction_times_code_change():
    sae = _sae()
    lin = nn.Linear(8, 8)
    x = torch.randn(5, 8)
    with torch.no_grad():
        h = lin(x)
        want, code = _expected(sae, h, {3: 2.5, 7: 0.0})
        with steer(lin, sae, {3: 2.5, 7: 0.0}):
            got = lin(x)
    assert torch.allclose(got, want, atol=1e-5)
    assert not torch.allclose(got, h)


def test_clamp_to_current_value_and_empty_clamp_change_nothing():
    sae = _sae()
    lin = nn.Linear(8, 8)
    x = torch.randn(6, 8)
    with torch.no_grad():
        h = lin(x)
        _, code = _expected(sae, h, {})
        f = int(code[0].argmax())
        with steer(lin, sae, {}):
            same = lin(x)
        with steer(lin, sae, {f: float(code[0, f])}):
            row0 = lin(x)[0]
    assert torch.allclose(same, h, atol=1e-6)
    assert torch.allclose(row0, h[0], atol=1e-5)  # the SAE's reconstruction error cancels


def test_denormalised_sae_scales_the_delta_by_the_input_std():
    sae = _sae(normalize_input=True)
    lin = nn.Linear(8, 8)
    x = torch.randn(4, 8)
    with torch.no_grad():
        h = lin(x)
        with steer(lin, sae, {2: 1.0}):
            got = lin(x)
        _, code = _expected(sae, h, {})
        sd = h.std(-1, keepdim=True)
        want = h + (1.0 - code[:, 2:3]) * sae.decoder.weight[:, 2] * (sd + 1e-5)
    assert torch.allclose(got, want, atol=1e-4)


class _TupleBlock(nn.Module):
    def forward(self, x):
        return x * 2, "extra"


def test_tuple_outputs_keep_their_tail_and_decode_only_skips_prefill():
    sae = _sae()
    block = _TupleBlock()
    prefill = torch.randn(5, 1, 8)  # (sequence, batch, hidden)
    step = torch.randn(1, 1, 8)
    with torch.no_grad(), steer(block, sae, {1: 3.0}, decode_only=True):
        p_out, p_tail = block(prefill)
        s_out, s_tail = block(step)
    assert p_tail == s_tail == "extra"
    assert torch.equal(p_out, prefill * 2)
    want, _ = _expected(sae, (step * 2).reshape(1, 8), {1: 3.0})
    assert torch.allclose(s_out.reshape(1, 8), want, atol=1e-5)


def test_hook_is_removed_after_the_block_even_on_error():
    sae = _sae()
    lin = nn.Linear(8, 8)
    with pytest.raises(RuntimeError), steer(lin, sae, {0: 1.0}):
        assert len(lin._forward_hooks) == 1
        raise RuntimeError("boom")
    assert len(lin._forward_hooks) == 0
    handle = lin.register_forward_hook(clamp_hook(sae, {0: 1.0}))
    assert len(lin._forward_hooks) == 1
    handle.remove()


def test_steering_a_real_bert_layer_moves_the_logits_by_the_hooked_delta():
    transformers = pytest.importorskip("transformers")
    cfg = transformers.BertConfig(
        vocab_size=25,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
    )
    torch.manual_seed(1)
    model = transformers.BertForMaskedLM(cfg).eval()
    sae = _sae(d=32, n=64, k=8)
    layer = model.bert.encoder.layer[0]
    ids = torch.randint(5, 25, (2, 7))
    with torch.no_grad():
        hidden = layer(model.bert.embeddings(input_ids=ids))
        hidden = hidden[0] if isinstance(hidden, tuple) else hidden
        _, code = _expected(sae, hidden.reshape(-1, 32), {})
        inactive = int(torch.nonzero(code.max(0).values == 0)[0])  # never fires on this input
        base = model(input_ids=ids).logits
        with steer(layer, sae, {inactive: 0.0}):
            ablate_inactive = model(input_ids=ids).logits
        with steer(layer, sae, {inactive: 10.0}):
            pushed = model(input_ids=ids).logits
    assert torch.allclose(ablate_inactive, base, atol=1e-5)  # nothing to ablate: no change
    assert (pushed - base).abs().max() > 1e-3
