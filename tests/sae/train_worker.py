"""Subprocess helper for the DDP and kill -9 tests (run directly or under torchrun).

    python train_worker.py train STORE OUT [--resume CKPT] [--sleep S] [--dp-size N] ...
    python train_worker.py deadcount OUT [--dcg]

Each rank writes ``OUT/rank_<r>.json`` (steps taken, batches seen, weight digest) and, for
``train``, ``OUT/rank_<r>.pt`` (its final state dict).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from pathlib import Path

import torch
import torch.distributed as dist
from sae import ActivationStore, ParallelConfig, TopKSAE, Trainer, TrainingConfig, set_seed


def digest(model: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


class SlowLogger:
    """perf_logger that sleeps per logged step, so a test can kill the run mid-way."""

    def __init__(self, sleep_s: float):
        self.sleep_s = sleep_s

    def reset(self) -> None:
        pass

    def log_step(self, **_kwargs) -> None:
        time.sleep(self.sleep_s)

    def finish(self) -> None:
        pass


def train(args) -> None:
    torch.set_num_threads(1)
    set_seed(0)
    store = ActivationStore(args.store)
    model = TopKSAE(
        store.hidden_dim,
        store.hidden_dim * 4,
        top_k=4,
        auxk=8,
        dead_tokens_threshold=64,
        dead_count_global=args.dcg,
    )
    model.init_pre_bias_from_data(store.sample(200, seed=0, num_shards=2))
    cfg = TrainingConfig(
        lr=1e-3,
        n_epochs=args.epochs,
        batch_size=args.batch_size,
        device="cpu",
        log_interval=1,
        checkpoint_dir=args.out,
        checkpoint_steps=args.checkpoint_steps,
        warmup_steps=2,
        lr_schedule="cosine",
        max_grad_norm=1.0,
        grad_accumulation_steps=args.accum,
        mix_shards=2,
        seed=1,
        show_progress=False,
    )
    trainer = Trainer(
        model,
        cfg,
        perf_logger=SlowLogger(args.sleep) if args.sleep else None,
        parallel_config=ParallelConfig(dp_size=args.dp_size),
    )
    trainer.fit(store, resume_from=args.resume)
    result = trainer.summary
    rank = int(os.environ.get("RANK", "0"))
    out = Path(args.out)
    torch.save(model.state_dict(), out / f"rank_{rank}.pt")
    (out / f"rank_{rank}.json").write_text(
        json.dumps(
            {
                "global_step": result["global_step"],
                "total_steps": result["total_steps"],
                "digest": digest(model),
            }
        )
    )


def deadcount(args) -> None:
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    counts = {}
    for dcg in (False, True):
        model = TopKSAE(8, 32, top_k=2, dead_count_global=dcg)
        fired = torch.zeros(32, dtype=torch.bool)
        fired[rank] = True  # latent r fires only on rank r
        model.update_dead_stats(fired, n_tokens=10)
        counts["global" if dcg else "local"] = model.tokens_since_fired.tolist()
    Path(args.out, f"rank_{rank}.json").write_text(json.dumps(counts))
    dist.destroy_process_group()


def nan(args) -> None:
    """Each rank trains on its own tensor; rank 1's holds a NaN in batch 3."""
    from sae.training import NonFiniteLossError

    rank = int(os.environ["RANK"])
    torch.manual_seed(rank)
    x = torch.randn(320, 8)
    if rank == 1:
        x[3 * 32 + 5, 0] = float("nan")
    set_seed(0)
    model = TopKSAE(8, 32, top_k=4)
    cfg = TrainingConfig(
        n_epochs=1, batch_size=32, device="cpu", shuffle=False, show_progress=False,
        checkpoint_dir=args.out, log_interval=1,
    )  # fmt: skip
    try:
        Trainer(model, cfg, parallel_config=ParallelConfig(dp_size=2)).fit(x, data_sharded=True)
        message = None
    except NonFiniteLossError as exc:
        message = str(exc)
    finite = all(torch.isfinite(v.float()).all() for v in model.state_dict().values())
    Path(args.out, f"rank_{rank}.json").write_text(
        json.dumps({"error": message, "finite": bool(finite)})
    )


def main() -> None:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("store")
    t.add_argument("out")
    t.add_argument("--resume", default=None)
    t.add_argument("--sleep", type=float, default=0.0)
    t.add_argument("--dp-size", type=int, default=1)
    t.add_argument("--dcg", action="store_true")
    t.add_argument("--epochs", type=int, default=2)
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--accum", type=int, default=1)
    t.add_argument("--checkpoint-steps", type=int, default=None)
    d = sub.add_parser("deadcount")
    d.add_argument("out")
    n = sub.add_parser("nan")
    n.add_argument("out")
    args = p.parse_args()
    {"train": train, "deadcount": deadcount, "nan": nan}[args.cmd](args)


if __name__ == "__main__":
    main()
