"""Trainer.load_checkpoint reads through sae.architectures.loading.read_checkpoint (issue 21
item 9): a file that is not a checkpoint of this model is a CheckpointError naming it, raised
before the model, the optimizer or the step counters change."""

from __future__ import annotations

import pytest
import torch
from sae import TopKSAE, Trainer, TrainingConfig
from sae.architectures.loading import CheckpointError


class Opaque:
    """A Python object in a checkpoint: only a pickle can hold it."""


def trained(tmp_path):
    torch.manual_seed(0)
    model = TopKSAE(8, 32, 4)
    trainer = Trainer(model, TrainingConfig(n_epochs=1, batch_size=16, device="cpu",
                                            checkpoint_dir=str(tmp_path / "run")))  # fmt: skip
    trainer.fit(torch.randn(64, 8))
    return trainer, tmp_path / "run" / "checkpoint_final.pt"


def test_a_good_checkpoint_restores_weights_optimizer_and_step(tmp_path):
    trainer, path = trained(tmp_path)
    fresh = Trainer(TopKSAE(8, 32, 4), TrainingConfig(device="cpu"))
    optimizer = torch.optim.Adam(fresh.model.parameters())
    ckpt = fresh.load_checkpoint(path, optimizer)
    assert fresh.global_step == trainer.global_step == ckpt["global_step"] > 0
    for key, value in trainer.model.state_dict().items():
        assert torch.equal(fresh.model.state_dict()[key], value)
    # the optimizer state is the process's own memory, not pages of the (mmap-read) file
    state = next(iter(optimizer.state.values()))
    read = ckpt["optimizer_state_dict"]["state"][0]["exp_avg"]
    assert torch.equal(state["exp_avg"], read) and state["exp_avg"].data_ptr() != read.data_ptr()


@pytest.mark.parametrize("case", ["truncated", "pickle", "other_width", "empty", "missing"])
def test_a_bad_file_raises_before_anything_changes(tmp_path, case):
    _, good = trained(tmp_path)
    path = tmp_path / f"{case}.pt"
    if case == "truncated":
        path.write_bytes(good.read_bytes()[:1000])
    elif case == "pickle":
        torch.save({"model_state_dict": {}, "x": Opaque()}, path)
    elif case == "other_width":
        other = TopKSAE(4, 16, 4)
        torch.save({"model_state_dict": other.state_dict(), "global_step": 3}, path)
    elif case == "empty":
        path.write_bytes(b"")
    model = TopKSAE(8, 32, 4)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = Trainer(model, TrainingConfig(device="cpu"))
    with pytest.raises(CheckpointError, match=str(path)):
        trainer.load_checkpoint(path)
    assert trainer.global_step == 0
    assert all(torch.equal(model.state_dict()[k], v) for k, v in before.items())
