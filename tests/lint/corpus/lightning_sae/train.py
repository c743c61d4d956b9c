"""Train the Lightning SAE on activations saved as .npy shards."""

import argparse

import lightning.pytorch as pl
from data import ActivationDataModule
from lightning.pytorch.callbacks import ModelCheckpoint
from model import DeadLatentCallback, LitSAE


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--devices", type=int, default=1)
    parser.add_argument("--num-nodes", type=int, default=1)
    parser.add_argument("--max-epochs", type=int, default=10)
    parser.add_argument("--max-steps", type=int, default=-1)
    parser.add_argument("--k", type=int, default=32)
    args = parser.parse_args()

    model = LitSAE(k=args.k)
    trainer = pl.Trainer(
        accelerator="gpu",
        devices=args.devices,
        num_nodes=args.num_nodes,
        max_epochs=args.max_epochs,
        max_steps=args.max_steps,
        callbacks=[DeadLatentCallback(), ModelCheckpoint(save_top_k=1, monitor="train/mse")],
        precision="bf16-mixed",
    )
    trainer.fit(model, datamodule=ActivationDataModule(args.data_dir))


if __name__ == "__main__":
    main()
