"""Real 2-process gloo DDP runs under torchrun (subprocess with a timeout: a hang fails)."""

from __future__ import annotations

import pytest
import torch
from sae_procs import make_store, results, torchrun

pytestmark = pytest.mark.e2e  # real multi-rank torchrun runs: out of the quick path, in CI


@pytest.fixture(scope="module")
def uneven_store(tmp_path_factory):
    # 1037 rows in 150-row shards: 6 full + a 137-row partial shard; ranks' rows straddle shards
    return make_store(tmp_path_factory.mktemp("ddp") / "store")


def test_two_rank_ddp_equal_steps_identical_weights(uneven_store, tmp_path):
    proc = torchrun(
        2,
        "train",
        str(uneven_store.path),
        str(tmp_path),
        "--dp-size",
        "2",
        "--dcg",
        "--checkpoint-steps",
        "10",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = results(tmp_path, 2)
    # 1037 // (32 * 2) = 16 batches per rank per epoch, 2 epochs
    assert r0["global_step"] == r1["global_step"] == r0["total_steps"] == 32
    assert r0["digest"] == r1["digest"]
    s0, s1 = (torch.load(tmp_path / f"rank_{r}.pt", weights_only=True) for r in (0, 1))
    for k in s0:
        assert torch.equal(s0[k], s1[k]), k
    ckpt = torch.load(tmp_path / "checkpoint_final.pt", weights_only=True)
    assert not any(k.startswith("module.") for k in ckpt["model_state_dict"])
    assert ckpt["world_size"] == 2 and ckpt["global_step"] == 32
    assert torch.equal(ckpt["model_state_dict"]["decoder.weight"], s0["decoder.weight"])


def test_dp_size_one_under_two_processes_is_an_error(uneven_store, tmp_path):
    proc = torchrun(2, "train", str(uneven_store.path), str(tmp_path), "--dp-size", "1")
    assert proc.returncode != 0
    assert "dp_size=1 but WORLD_SIZE=2" in proc.stderr + proc.stdout


def test_dead_count_global_counts_tokens_times_world(tmp_path):
    proc = torchrun(2, "deadcount", str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    for r, res in enumerate(results(tmp_path, 2)):
        # latents 2.. never fire anywhere: +10 tokens per rank; x2 ranks when counted globally
        assert res["global"][2:] == [20] * 30
        assert res["local"][2:] == [10] * 30
        # latent 0 fires on rank 0 and latent 1 on rank 1: globally both reset on every rank
        assert res["global"][:2] == [0, 0]
        # per rank, only the local firing resets
        assert res["local"][r] == 0 and res["local"][1 - r] == 10


def test_non_finite_loss_on_one_rank_stops_every_rank(tmp_path):
    proc = torchrun(2, "nan", str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    for res in results(tmp_path, 2):
        assert "on rank 1 at step 3 (epoch 0, batch 3)" in res["error"]
        assert res["finite"]  # no rank stepped with gradients averaged with a NaN
    assert not (tmp_path / "checkpoint_final.pt").exists()
