"""Trainer (single process): schedules, horizon, checkpoints, resume, sources, config errors."""

from __future__ import annotations

import json
import math
import sys
import warnings

import pytest
import torch
from sae import (
    ActivationStore,
    ActivationStoreConfig,
    ParallelConfig,
    TopKSAE,
    Trainer,
    TrainingConfig,
    WandbConfig,
    load_sae,
    set_seed,
)
from sae.schedule import compute_horizon, lr_at


def _data(n=1200, h=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    basis = torch.randn(24, h, generator=g)
    codes = torch.relu(torch.randn(n, 24, generator=g)) * (torch.rand(n, 24, generator=g) < 0.2)
    return codes @ basis + 0.01 * torch.randn(n, h, generator=g)


def _model(h=12, **kw):
    set_seed(0)
    return TopKSAE(h, 48, top_k=4, auxk=8, dead_tokens_threshold=200, **kw)


def _cfg(tmp_path, **kw):
    base = dict(
        lr=3e-3,
        n_epochs=2,
        batch_size=50,
        device="cpu",
        log_interval=1,
        checkpoint_dir=str(tmp_path),
        warmup_steps=3,
        lr_schedule="cosine",
        max_grad_norm=1.0,
        show_progress=False,
        seed=7,
    )
    base.update(kw)
    return TrainingConfig(**base)


def test_lr_schedules():
    # warmup ramps from 0 (step s: lr * s / W); the decay phase lasts D steps after warmup
    assert lr_at(0, 1.0, 0.0, 4, 100, "cosine") == 0.0
    assert lr_at(3, 1.0, 0.0, 4, 100, "cosine") == pytest.approx(0.75)
    assert lr_at(4, 1.0, 0.1, 4, 100, "cosine") == pytest.approx(1.0)
    assert lr_at(54, 1.0, 0.1, 4, 100, "cosine") == pytest.approx(0.55)
    assert lr_at(104, 1.0, 0.1, 4, 100, "cosine") == pytest.approx(0.1)
    assert lr_at(500, 1.0, 0.1, 4, 100, "cosine") == pytest.approx(0.1)
    assert lr_at(54, 1.0, 0.0, 4, 100, "linear") == pytest.approx(0.5)
    assert lr_at(80, 1.0, 0.0, 4, 100, "constant") == 1.0
    assert lr_at(80, 1.0, 0.0, 4, 0, "cosine") == 1.0  # no decay phase


def test_horizon_counts_true_optimizer_steps():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert compute_horizon(10, 3, 2, None, None, "cosine") == (5, 15, 15)
        assert compute_horizon(10, 3, 2, None, None, "cosine", warmup_steps=5) == (5, 15, 10)
    with pytest.warns(UserWarning, match="max_steps=7 truncates"):
        assert compute_horizon(10, 3, 2, 7, None, "cosine") == (5, 7, 7)
    with pytest.warns(UserWarning, match="lr_decay_steps=4"):
        assert compute_horizon(10, 3, 2, None, 4, "cosine") == (5, 15, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compute_horizon(10, 3, 2, 7, None, "constant")
    with pytest.raises(ValueError, match="grad_accumulation_steps"):
        compute_horizon(3, 1, 4, None, None, "cosine")


@pytest.mark.parametrize(
    "field, value",
    [
        ("lr", 0.0),
        ("batch_size", 0),
        ("lr_schedule", "exp"),
        ("grad_accumulation_steps", 0),
        ("lr_min", 5.0),
    ],
)
def test_config_validation_names_field(field, value):
    with pytest.raises(ValueError, match=field):
        TrainingConfig(**{field: value})


def test_fit_tensor_learns_and_writes_checkpoint_and_metrics(tmp_path):
    x = _data()
    model = _model()
    model.init_pre_bias_from_data(x[:300])
    trainer = Trainer(model, _cfg(tmp_path, checkpoint_steps=10))
    final_loss = trainer.fit(x)
    res = trainer.summary
    assert isinstance(final_loss, float) and math.isfinite(final_loss)
    assert res["steps_per_epoch"] == 24 and res["global_step"] == res["total_steps"] == 48
    lines = [json.loads(s) for s in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in lines] == list(range(1, 49))
    assert {"lr", "loss", "fvu", "dead_pct", "l0", "aux"} <= set(lines[0])
    # the reference decoder constraint (unit rows over latents) learns slower than unit latents
    assert lines[-1]["fvu"] < 0.7 * lines[0]["fvu"]
    assert lines[-1]["lr"] == pytest.approx(0.0, abs=1e-5)  # cosine spans the whole run
    ckpt = torch.load(tmp_path / "checkpoint_final.pt", weights_only=True)
    assert {
        "model_state_dict",
        "input_dim",
        "hidden_dim",
        "model_config",
        "global_step",
        "epoch",
        "config",
        "optimizer_state_dict",
    } <= set(ckpt)
    assert not any(k.startswith("module.") for k in ckpt["model_state_dict"])
    assert ckpt["input_dim"] == 12 and ckpt["hidden_dim"] == 48 and ckpt["global_step"] == 48
    assert ckpt["model_state_dict"]["encoder.weight"].shape == (48, 12)
    assert sorted(p.name for p in tmp_path.glob("checkpoint_step_*.pt")) == [
        f"checkpoint_step_{n}.pt" for n in (10, 20, 30, 40)
    ]
    loaded = load_sae(tmp_path / "checkpoint_final.pt")
    assert torch.equal(loaded.W_dec, model.W_dec)


def _final_state(tmp_path, data, resume=None, accum=1):
    model = _model()
    cfg = _cfg(
        tmp_path,
        checkpoint_steps=5,
        grad_accumulation_steps=accum,
        lr_schedule="linear",
        mix_shards=2,
    )
    Trainer(model, cfg).fit(data, resume_from=resume)
    return model.state_dict()


@pytest.mark.parametrize("source", ["tensor", "store"])
@pytest.mark.parametrize("accum", [1, 2])
def test_resume_is_bit_identical(tmp_path, source, accum):
    x = _data()
    if source == "store":
        store = ActivationStore(tmp_path / "store", ActivationStoreConfig(shard_size=170))
        store.save(x)
        data = store
    else:
        data = x
    full = _final_state(tmp_path / "full", data, accum=accum)
    # step 15 is mid-epoch 0 at accumulation 1 and mid-epoch 1 at accumulation 2 (12 steps per
    # epoch), so the data position matters; the kill -9 variant lives in test_faults.py
    ckpt = tmp_path / "full" / "checkpoint_step_15.pt"
    assert torch.load(ckpt, weights_only=True)["global_step"] == 15
    resumed = _final_state(tmp_path / "resumed", data, resume=ckpt, accum=accum)
    for k in full:
        assert torch.equal(full[k], resumed[k]), k


def test_fit_dataloader_and_store_path(tmp_path):
    x = _data(400)
    dl = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x), batch_size=40)
    trainer = Trainer(_model(), _cfg(tmp_path / "a", n_epochs=1))
    trainer.fit(dl)
    assert trainer.summary["global_step"] == 10
    ActivationStore(tmp_path / "s", ActivationStoreConfig(shard_size=90)).save(x.half())
    trainer = Trainer(_model(), _cfg(tmp_path / "b", n_epochs=1))
    trainer.fit(str(tmp_path / "s"))
    assert trainer.summary["global_step"] == 8


def test_max_steps_honoured(tmp_path):
    with pytest.warns(UserWarning, match="max_steps"):
        trainer = Trainer(_model(), _cfg(tmp_path, max_steps=5))
        trainer.fit(_data())
    assert trainer.summary["global_step"] == 5


def test_max_steps_is_a_budget_that_repeats_epochs(tmp_path):
    # 1200 rows / batch 50 = 24 batches per epoch; 2 epochs would be 48 steps: 60 re-reads the data
    trainer = Trainer(_model(), _cfg(tmp_path, max_steps=60, lr_schedule="constant"))
    trainer.fit(_data())
    assert trainer.summary["global_step"] == trainer.global_step == 60
    assert trainer.current_epoch == 2  # the third pass over the data


def test_unsized_stream_trains_until_max_steps_or_exhaustion(tmp_path):
    rows = _data(n=200)
    stream = (rows[i : i + 50] for i in range(0, 200, 50))  # a generator: no len()
    trainer = Trainer(_model(), _cfg(tmp_path, lr_schedule="constant", n_epochs=1))
    loss = trainer.fit(stream)
    assert trainer.global_step == 4 and isinstance(loss, float)


@pytest.mark.parametrize("world_env, dp", [("2", 1), (None, 2)])
def test_dp_size_must_match_world_size(tmp_path, monkeypatch, world_env, dp):
    if world_env is None:
        monkeypatch.delenv("WORLD_SIZE", raising=False)
    else:
        monkeypatch.setenv("WORLD_SIZE", world_env)
    trainer = Trainer(_model(), _cfg(tmp_path), parallel_config=ParallelConfig(dp_size=dp))
    with pytest.raises(RuntimeError, match=r"dp_size=\d but WORLD_SIZE=\d.*--dp-size"):
        trainer.fit(_data())


def test_wandb_missing_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # `import wandb` fails, installed or not
    trainer = Trainer(_model(), _cfg(tmp_path), wandb_config=WandbConfig(enabled=True))
    with pytest.raises(ImportError, match=r"sae\[wandb\]"):
        trainer.fit(_data())


def test_crashed_store_refused_by_trainer(tmp_path):
    store = ActivationStore(tmp_path / "s", ActivationStoreConfig(shard_size=100))
    store.append(_data(450))
    with pytest.raises(RuntimeError, match="no metadata.json"):
        Trainer(_model(), _cfg(tmp_path / "out")).fit(ActivationStore(tmp_path / "s"))


def test_cosine_lr_reaches_min_at_end_with_accumulation(tmp_path):
    Trainer(_model(), _cfg(tmp_path, grad_accumulation_steps=3, lr_min=1e-4)).fit(_data())
    lines = [json.loads(s) for s in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert len(lines) == 16
    # 24 batches / 3 = 8 steps per epoch, 16 in all; the last step (index 15) is 12/13 of the way
    expected = 1e-4 + (3e-3 - 1e-4) * 0.5 * (1 + math.cos(math.pi * 12 / 13))
    assert lines[-1]["lr"] == pytest.approx(expected, rel=1e-9)


def test_defaults_are_the_shared_librarys():
    c, w = TrainingConfig(), WandbConfig()
    assert (c.n_epochs, c.device, c.log_interval, c.batch_size, c.lr) == (
        10,
        "cuda",
        100,
        4096,
        3e-4,
    )
    assert (c.num_workers, c.pin_memory, c.lr_scale_with_latents) == (0, False, False)
    assert c.lr_reference_hidden_dim == 2048 and c.lr_schedule == "constant"
    assert (w.project, w.log_interval, w.group, w.job_type) == ("biosae", 10, None, None)


def test_lr_scale_with_latents(tmp_path):
    cfg = _cfg(tmp_path, lr_scale_with_latents=True, lr_reference_hidden_dim=12, warmup_steps=0)
    cfg.lr_schedule = "constant"
    Trainer(_model(), cfg).fit(_data(200))
    first = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[0])
    assert first["lr"] == pytest.approx(3e-3 * math.sqrt(12 / 48))


def test_non_finite_loss_stops_at_that_step(tmp_path):
    from sae.training import NonFiniteLossError

    x = _data()
    x[50 * 7 + 3, 2] = float("nan")  # a row of batch 7 (no shuffling): optimizer step 7
    cfg = _cfg(tmp_path, shuffle=False, checkpoint_steps=5)
    model = _model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(NonFiniteLossError, match=r"nan at step 7 \(epoch 0, batch 7\)"):
        Trainer(model, cfg).fit(x)
    assert not (tmp_path / "checkpoint_final.pt").exists()
    assert (tmp_path / "checkpoint_step_5.pt").exists()  # earlier checkpoints stay usable
    text = (tmp_path / "metrics.jsonl").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert [json.loads(s)["step"] for s in text.splitlines()] == list(range(1, 8))
    assert all(torch.isfinite(v.float()).all() for v in model.state_dict().values())
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_adam_is_fused_and_matches_the_plain_update(tmp_path):
    from sae.training import _make_adam

    x = _data(600)
    fused = _model()
    Trainer(fused, _cfg(tmp_path / "a", n_epochs=1)).fit(x)
    plain = _model()
    opt = torch.optim.Adam(plain.parameters(), lr=3e-3, foreach=False, fused=False)
    Trainer(plain, _cfg(tmp_path / "b", n_epochs=1), optimizer=opt).fit(x)
    for k, v in fused.state_dict().items():
        torch.testing.assert_close(v, plain.state_dict()[k], rtol=1e-5, atol=1e-5)
    assert _make_adam(_model().parameters(), 1e-3).defaults["fused"] is True


def test_dead_pct_logged_is_evals_definition(tmp_path):
    from sae.eval import counter_dead_pct, evaluate_sparsity

    model = TopKSAE(12, 96, top_k=2, auxk=None, dead_tokens_threshold=100)
    Trainer(model, _cfg(tmp_path, n_epochs=1)).fit(_data(600))
    last = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
    sparsity = evaluate_sparsity(model, _data(300, seed=1), batch_size=100)
    assert last["dead_pct"] == pytest.approx(sparsity.dead_pct) == counter_dead_pct(model)
    assert sparsity.n_dead >= 0 and sparsity.dead_tokens_threshold == 100


def test_perf_logger_gets_every_step(tmp_path, capsys):
    from sae import PerfLogger

    logger = PerfLogger(log_interval=4, use_wandb=False, print_logs=True, device="cpu")
    Trainer(_model(), _cfg(tmp_path, n_epochs=1), perf_logger=logger).fit(_data(400))
    out = capsys.readouterr().out
    steps = [line for line in out.splitlines() if line.startswith("Step ")]
    assert [s.split(" |")[0] for s in steps] == ["Step 4", "Step 8"]
    assert "dead_latents (%)" in steps[0] and "Training finished" in out
    assert math.isfinite(logger.min_loss)


_WRITE_FAIL = """
import resource, signal, sys, torch
from sae import TopKSAE, Trainer, TrainingConfig
from sae.training import CheckpointWriteError
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
cfg = TrainingConfig(n_epochs=1, batch_size=50, device="cpu", checkpoint_dir=sys.argv[1],
                     show_progress=False, log_interval=1000)
x = torch.randn(200, 64)
model = TopKSAE(64, 4096, top_k=4)
resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))  # the checkpoint is ~3 MB
try:
    Trainer(model, cfg).fit(x)
except CheckpointWriteError as exc:
    print("ERR", exc)
    sys.exit(3)
"""


def test_checkpoint_write_failure_is_clear_and_leaves_no_tmp(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-c", _WRITE_FAIL, str(out)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 3, proc.stderr
    assert "cannot write checkpoint" in proc.stdout and "checkpoint_final.pt" in proc.stdout
    assert sorted(p.name for p in out.iterdir()) == ["metrics.jsonl"]


def test_train_sae_one_call():
    from sae.training import train_sae

    x = _data(400)
    model = _model()
    before = model.W_dec.detach().clone()
    loss = train_sae(model, x, lr=3e-3, n_epochs=2, batch_size=50, device="cpu", log_interval=1)
    assert math.isfinite(loss) and not torch.equal(before, model.W_dec)
