"""Train a TopK SAE on cached ESM2 activations (multi-GPU through torchrun)."""

import argparse

import torch.distributed as dist
from sae.activation_store import ActivationStore
from sae.architectures import TopKSAE
from sae.training import ParallelConfig, Trainer, TrainingConfig, WandbConfig


def get_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cache-dir", required=True)
    parser.add_argument("--expansion-factor", type=int, default=8)
    parser.add_argument("--top-k", type=int, default=32)
    parser.add_argument("--normalize-input", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--aggregate-loss", action=argparse.BooleanOptionalAction, default=False)
    parser.add_argument("--dead-count-global", action=argparse.BooleanOptionalAction, default=False)
    parser.add_argument("--mix-shards", type=int, default=1)
    parser.add_argument("--presample-shards", type=int, default=1)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--lr-schedule", default="cosine", choices=["constant", "cosine"])
    parser.add_argument("--lr-decay-steps", type=int, default=None)
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--n-epochs", type=int, default=1)
    parser.add_argument("--dp-size", type=int, default=1)
    parser.add_argument("--wandb", action="store_true")
    parser.add_argument("--wandb-project", default="esm2-sae")
    parser.add_argument("--wandb-run-name", default=None)
    return parser.parse_args()


def main():
    args = get_args()
    if args.dp_size > 1:
        dist.init_process_group("nccl")
    rank = dist.get_rank() if args.dp_size > 1 else 0
    store = ActivationStore(args.cache_dir)
    sae = TopKSAE(
        input_dim=store.hidden_dim,
        hidden_dim=store.hidden_dim * args.expansion_factor,
        top_k=args.top_k,
        normalize_input=args.normalize_input,
        aggregate_loss=args.aggregate_loss,
        dead_count_global=args.dead_count_global,
    )
    sae.init_pre_bias_from_data(store.sample(65_536, seed=0, num_shards=args.presample_shards))
    loader = store.get_streaming_dataloader(
        batch_size=4096, rank=rank, world_size=args.dp_size, mix_shards=args.mix_shards
    )
    cfg = TrainingConfig(
        lr=args.lr,
        n_epochs=args.n_epochs,
        lr_schedule=args.lr_schedule,
        lr_decay_steps=args.lr_decay_steps,
        max_steps=args.max_steps,
    )
    wandb = WandbConfig(
        enabled=args.wandb, project=args.wandb_project, run_name=args.wandb_run_name
    )
    Trainer(sae, cfg, wandb_config=wandb, parallel_config=ParallelConfig(dp_size=args.dp_size)).fit(
        loader, data_sharded=True
    )


if __name__ == "__main__":
    main()
