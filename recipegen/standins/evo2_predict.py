"""Offline stand-in for the Evo2 `predict` entry point (what a predict_cli recipe wraps).

Use it to smoke an evo2 (or any predict_cli) recipe without the model:
`PREDICT_MODULE=recipegen.standins.evo2_predict bash launch.sh --smoke` (or `recipegen demo
--model evo2`). It has as many blocks as the requested --embedding-layer (at least 4).

Mirrors the parts the recipe depends on: a module-level `PredictionWriter` class (Lightning
`BasePredictionWriter`-like; the default one writes one `.pt` per batch, as the real CLI does),
instantiated inside `main()` and called per batch as
`write_on_batch_end(trainer, pl_module, prediction, batch_indices, batch, batch_idx, dataloader_idx)`
with `prediction = {hidden_embeddings [B,S,H] bf16, pad_mask [B,S], seq_idx [B], tokens [B,S],
batch_idx}`. Plain FASTA only (refuses .gz), byte tokenizer (1 nt per token), a tiny random model
(fixed seed). Under torchrun it initialises a gloo process group, takes records rank::world_size,
and destroys the group before returning, like the real entry point.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn


class PredictionWriter:
    """Default per-batch writer: one .pt file per batch (what a recipe must NOT end up using)."""

    def __init__(self, output_dir: str, write_interval: str = "batch"):
        self.output_dir = Path(output_dir)
        self.write_interval = write_interval

    def write_on_batch_end(
        self, trainer, pl_module, prediction, batch_indices, batch, batch_idx, dataloader_idx
    ):
        self.output_dir.mkdir(parents=True, exist_ok=True)
        rank = int(os.environ.get("RANK", "0"))
        torch.save(prediction, self.output_dir / f"predictions__rank_{rank}__batch_{batch_idx}.pt")

    def write_on_epoch_end(self, trainer, pl_module, predictions, batch_indices):
        pass


class TinyByteModel(nn.Module):
    """Byte embedding + a few pre-norm transformer blocks; `upto` = 1-based block output."""

    def __init__(self, hidden_dim: int, num_layers: int):
        super().__init__()
        self.embed = nn.Embedding(256, hidden_dim)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(hidden_dim, 4, 2 * hidden_dim, dropout=0.0, batch_first=True)
            for _ in range(num_layers)
        )

    def forward(self, tokens: torch.Tensor, pad_mask: torch.Tensor, upto: int) -> torch.Tensor:
        h = self.embed(tokens)
        for i, block in enumerate(self.blocks, start=1):
            h = block(h, src_key_padding_mask=~pad_mask.bool())
            if i == upto:
                break
        return h


def read_fasta(path: Path) -> list[str]:
    if path.suffix == ".gz":
        raise SystemExit(f"predict: --fasta {path}: only plain, uncompressed FASTA is supported")
    records, parts = [], []
    for line in path.read_text().splitlines():
        if line.startswith(">"):
            if parts:
                records.append("".join(parts))
            parts = []
        elif line.strip():
            parts.append(line.strip())
    if parts:
        records.append("".join(parts))
    return records


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="offline stand-in for the Evo2 predict CLI")
    p.add_argument("--fasta", type=Path, required=True)
    p.add_argument("--ckpt-dir", required=True)
    p.add_argument("--output-dir", type=Path, required=True)
    p.add_argument("--embedding-layer", type=int, default=2)
    p.add_argument("--micro-batch-size", type=int, default=4)
    p.add_argument("--hidden-dim", type=int, default=32)
    p.add_argument("--num-layers", type=int, default=None, help="default: max(4, layer)")
    return p.parse_args(argv)


@torch.inference_mode()
def main() -> None:
    args = parse_args()
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        dist.init_process_group("gloo")
    rank = dist.get_rank() if dist.is_initialized() else 0
    torch.manual_seed(0)
    n_layers = args.num_layers or max(4, args.embedding_layer)
    model = TinyByteModel(args.hidden_dim, n_layers).eval()
    records = read_fasta(args.fasta)
    mine = list(range(len(records)))[rank::world]
    writer = PredictionWriter(output_dir=str(args.output_dir), write_interval="batch")
    for batch_idx, start in enumerate(range(0, len(mine), args.micro_batch_size)):
        idx = mine[start : start + args.micro_batch_size]
        seqs = [records[i].encode() for i in idx]
        width = max(len(s) for s in seqs)
        tokens = torch.zeros(len(seqs), width, dtype=torch.long)
        pad_mask = torch.zeros(len(seqs), width, dtype=torch.long)
        for row, s in enumerate(seqs):
            tokens[row, : len(s)] = torch.tensor(list(s))
            pad_mask[row, : len(s)] = 1
        hidden = model(tokens, pad_mask, args.embedding_layer).to(torch.bfloat16)
        prediction = {
            "hidden_embeddings": hidden,
            "pad_mask": pad_mask,
            "seq_idx": torch.tensor(idx),
            "tokens": tokens,
            "batch_idx": batch_idx,
        }
        writer.write_on_batch_end(None, model, prediction, None, None, batch_idx, 0)
    writer.write_on_epoch_end(None, model, [], [])
    if dist.is_initialized():  # the real entry point tears the group down before returning
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
