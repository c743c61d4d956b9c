"""Activation shards for the Lightning SAE; also dumps predictions for inspection."""

from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset


class ActivationDataModule(pl.LightningDataModule):
    def __init__(self, data_dir, batch_size=4096):
        super().__init__()
        self.data_dir = Path(data_dir)
        self.batch_size = batch_size

    def setup(self, stage=None):
        shards = sorted(self.data_dir.glob("*.npy"))
        x = torch.from_numpy(np.concatenate([np.load(s) for s in shards])).float()
        self.train_set = TensorDataset(x)

    def train_dataloader(self):
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True)


def dump_codes(trainer, model, loader, out="codes.pt"):
    preds = trainer.predict(model, loader)
    trainer.strategy.barrier()
    torch.save(torch.cat([p[1] for p in preds]), out)
