"""Run a rendered train.py unchanged, saving every rank's final SAE weights (test harness).

Usage: torchrun --nproc_per_node N save_rank_weights.py OUT_DIR path/to/train.py [train args...]
`sae.training.Trainer.fit` is wrapped so that, after the real fit, each rank writes
`OUT_DIR/rank_<r>.pt` with its model's state dict: the test then checks they are identical.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

import sae.training
import torch

out_dir, train_py, *train_args = sys.argv[1:]
original_fit = sae.training.Trainer.fit


def fit_and_save(self, *args, **kwargs):
    result = original_fit(self, *args, **kwargs)
    state = {k: v.detach().cpu() for k, v in self.model.state_dict().items()}
    rank = int(os.environ.get("RANK", "0"))
    torch.save(state, Path(out_dir) / f"rank_{rank}.pt")
    return result


sae.training.Trainer.fit = fit_and_save
sys.argv = [train_py, *train_args]
runpy.run_path(train_py, run_name="__main__")
