"""The fast training-step paths equal straightforward implementations: LayoutAdam vs torch's
Adam (bit for bit), the sparse weight-gradient and projection kernels vs dense formulas, and a
whole training step at the recipe's settings vs dense autograd + plain Adam."""

from __future__ import annotations

import pytest
import torch
from sae.architectures import TopKSAE
from sae.kernels.dense_adam import LayoutAdam
from sae.kernels.reference import reference_topk_loss
from sae.kernels.sparse_ops import remove_parallel_rows, scatter_rows_sum
from sae.training import _make_adam


def _params(seed=0):
    torch.manual_seed(seed)
    latent_major = torch.nn.Parameter(torch.randn(40, 12).t())  # [12, 40], transpose contiguous
    plain = torch.nn.Parameter(torch.randn(40, 12))
    vec = torch.nn.Parameter(torch.randn(12))
    return [latent_major, plain, vec]


@pytest.mark.parametrize("kind", [{"fused": True}, {"foreach": True}, {"foreach": False}])
@pytest.mark.parametrize("amsgrad", [False, True])
def test_layout_adam_is_bit_identical_to_torch_adam(kind, amsgrad):
    ours, theirs = _params(), _params()
    oa = LayoutAdam(ours, lr=1e-2, amsgrad=amsgrad, weight_decay=0.01, **kind)
    ob = torch.optim.Adam(theirs, lr=1e-2, amsgrad=amsgrad, weight_decay=0.01, **kind)
    for step in range(4):
        g = torch.Generator().manual_seed(step)
        for pa, pb in zip(ours, theirs, strict=True):
            grad = torch.randn(pa.shape, generator=g)
            pa.grad = grad.t().contiguous().t() if not pa.is_contiguous() else grad.clone()
            pb.grad = grad.t().contiguous().t() if not pb.is_contiguous() else grad.clone()
        oa.step()
        ob.step()
    for pa, pb in zip(ours, theirs, strict=True):
        assert torch.equal(pa, pb) and pa.stride() == pb.stride()
    sa, sb = oa.state_dict(), ob.state_dict()
    assert sa["param_groups"] == sb["param_groups"]
    for i, state in sb["state"].items():
        for key, value in state.items():
            assert torch.equal(sa["state"][i][key], value), key
    assert ours[0].t().is_contiguous()  # the layout survives the steps


def test_layout_adam_leaves_mixed_layouts_to_torch():
    p = torch.nn.Parameter(torch.randn(30, 10).t())
    q = torch.nn.Parameter(p.detach().clone())
    oa, ob = LayoutAdam([p], lr=1e-2, fused=True), torch.optim.Adam([q], lr=1e-2, fused=True)
    g = torch.randn(10, 30)  # row-major gradient for a transposed-stored parameter
    p.grad, q.grad = g.clone(), g.clone()
    oa.step()
    ob.step()
    assert torch.equal(p, q)


def test_make_adam_builds_layout_adam_with_torch_state_dict():
    params = _params()
    opt = _make_adam(params, 1e-3)
    assert isinstance(opt, LayoutAdam) and isinstance(opt, torch.optim.Adam)
    for p in params:
        p.grad = torch.ones_like(p)
    opt.step()
    plain = torch.optim.Adam(_params(), lr=1e-3, fused=True)
    plain.load_state_dict(opt.state_dict())  # checkpoints stay torch.optim.Adam's format


def _dense_scatter(idx, vals, x, n):
    s = torch.zeros(idx.shape[0], n, dtype=torch.float64)
    s.scatter_add_(1, idx, vals.double())
    return (s.T @ x.double()).float()


@pytest.mark.parametrize("shape", [(64, 300, 7, 9), (5, 3, 4, 2), (128, 50, 16, 33)])
def test_scatter_rows_sum_matches_dense_and_zero_elsewhere(shape):
    b, n, m, d = shape
    g = torch.Generator().manual_seed(b + n)
    idx = torch.randint(0, n, (b, m), generator=g)  # repeated latents within and across rows
    vals, x = torch.randn(b, m, generator=g), torch.randn(b, d, generator=g)
    out = scatter_rows_sum(idx, vals, x, n)
    torch.testing.assert_close(out, _dense_scatter(idx, vals, x, n), rtol=1e-5, atol=1e-5)
    unused = torch.ones(n, dtype=torch.bool)
    unused[idx.reshape(-1)] = False
    assert torch.equal(out[unused], torch.zeros(int(unused.sum()), d))  # exactly 0, never junk
    assert torch.equal(out, scatter_rows_sum(idx, vals, x, n))  # deterministic summation order


def test_remove_parallel_rows_matches_direct_formula():
    g = torch.Generator().manual_seed(4)
    grad, w = torch.randn(50, 24, generator=g), torch.randn(50, 24, generator=g) * 3
    w[7] = 0.0  # a zero direction leaves its gradient as it is
    unit = w / w.norm(dim=1, keepdim=True).clamp_min(1e-12)
    want = grad - (grad * unit).sum(dim=1, keepdim=True) * unit
    got = remove_parallel_rows(grad, w)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    assert torch.equal(got[7], grad[7])
    assert (got * unit).sum(dim=1).abs().max() < 1e-5


def _recipe_model(seed=0):
    torch.manual_seed(seed)
    m = TopKSAE(24, 96, 6, normalize_input=False, auxk=12, dead_tokens_threshold=60)
    return m.use_unit_norm_latents()


def test_training_step_at_recipe_settings_matches_dense_autograd():
    """Sparse selection/backward + projection hook + LayoutAdam + post_step vs dense autograd,
    the direct projection formula and plain Adam, over steps where AuxK is active."""
    fast, slow = _recipe_model(), _recipe_model()
    fast.use_decoder_grad_projection()
    opt_fast = _make_adam(fast.parameters(), 1e-2)
    opt_slow = torch.optim.Adam(slow.parameters(), lr=1e-2, foreach=False)
    stats = torch.zeros(96, dtype=torch.long)
    g = torch.Generator().manual_seed(9)
    aux_seen = False
    for _ in range(5):
        x = torch.randn(40, 24, generator=g) * 1.5
        with torch.no_grad():
            _, idx_fast = fast.encode_topk(x)
            _, idx_slow = slow.encode_topk(x)
        assert torch.equal(idx_fast.sort(1).values, idx_slow.sort(1).values)
        out = fast.loss(x)
        total, aux, stats = reference_topk_loss(slow, x, stats)
        assert torch.equal(fast.stats_last_nonzero, stats)
        torch.testing.assert_close(out["total"], total, rtol=1e-5, atol=1e-6)
        aux_seen |= float(aux.detach()) > 0
        opt_fast.zero_grad(set_to_none=True)
        opt_slow.zero_grad(set_to_none=True)
        out["total"].backward()
        total.backward()
        with torch.no_grad():  # the projection written directly, per latent (a column)
            w, gw = slow.decoder.weight, slow.decoder.weight.grad
            unit = w / w.norm(dim=0, keepdim=True).clamp_min(1e-12)
            gw -= (gw * unit).sum(dim=0, keepdim=True) * unit
        for (name, a), b in zip(fast.named_parameters(), slow.parameters(), strict=True):
            torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-6, msg=name)
        opt_fast.step()
        opt_slow.step()
        fast.post_step()
        slow.post_step()
        for (name, a), b in zip(fast.named_parameters(), slow.parameters(), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5, msg=name)
    assert aux_seen  # the AuxK path was exercised
    assert fast.decoder.weight.t().is_contiguous()


def test_reusable_buffer_reuses_only_memory_nobody_holds():
    from sae.kernels.sparse_ops import ReusableBuffer

    buf, like = ReusableBuffer(), torch.empty(0)
    first = buf.take((6, 4), (1, 6), like)
    first.fill_(1.0)
    ptr = first.data_ptr()
    second = buf.take((6, 4), (1, 6), like)  # `first` is still held: fresh memory
    assert second.data_ptr() != ptr and second.stride() == (1, 6)
    second.fill_(2.0)
    assert torch.equal(first, torch.ones(6, 4))
    ptr2 = second.data_ptr()
    del first, second
    third = buf.take((6, 4), (1, 6), like)  # nothing holds the kept memory any more
    assert third.data_ptr() == ptr2
    assert buf.take((3, 3), (3, 1), like).shape == (3, 3)  # another size: fresh memory


def test_gradients_on_reused_memory_accumulate_and_stay_put():
    """Two backward passes without zero_grad add up (the Trainer's accumulation), and a
    gradient someone kept is not overwritten by the next step."""
    torch.manual_seed(1)
    model = _recipe_model()
    model.use_decoder_grad_projection()
    model.stats_last_nonzero[::3] = 100  # a third of the latents dead: AuxK active
    stats0 = model.stats_last_nonzero.clone()
    x1, x2 = torch.randn(40, 24), torch.randn(40, 24)

    def backward(x):
        model.stats_last_nonzero.copy_(stats0)
        out = model.loss(x)
        assert float(out["aux"].detach()) > 0
        out["total"].backward()

    singles = []
    for x in (x1, x2):
        model.zero_grad(set_to_none=True)
        backward(x)
        singles.append({n: p.grad.clone() for n, p in model.named_parameters()})
    model.zero_grad(set_to_none=True)
    backward(x1)
    backward(x2)
    for name, p in model.named_parameters():
        torch.testing.assert_close(p.grad, singles[0][name] + singles[1][name], msg=name)
    model.zero_grad(set_to_none=True)
    backward(x1)
    kept = {n: p.grad for n, p in model.named_parameters()}  # held, not copied
    model.zero_grad(set_to_none=True)
    backward(x2)  # the next step while `kept` is still referenced
    for name, g in kept.items():
        assert torch.equal(g, singles[0][name]), name
        assert g.data_ptr() != dict(model.named_parameters())[name].grad.data_ptr()


def test_make_adam_falls_back_to_torch_adam_when_the_private_hook_changes(monkeypatch):
    """LayoutAdam extends a private torch hook: a torch whose hook has another signature gets
    plain torch.optim.Adam (same update rule), never an optimizer that fails at its first step."""
    from sae.kernels import dense_adam

    assert dense_adam.layout_adam_supported()  # the installed torch
    monkeypatch.setattr(torch.optim.Adam, "_init_group", lambda self, group: None, raising=True)
    assert not dense_adam.layout_adam_supported()
    opt = _make_adam([torch.nn.Parameter(torch.zeros(3, 2))], 1e-3)
    assert type(opt) is torch.optim.Adam
