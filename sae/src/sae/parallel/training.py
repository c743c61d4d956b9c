"""Training loop for the latent-sharded ``ShardedTopKSAE`` (tensor parallel, no DDP).

Every rank of the group trains on the same batch: rank 0 reads the dataloader and broadcasts
each batch. After backward only the replicated ``pre_bias`` gradient is all-reduced.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.distributed as dist

if TYPE_CHECKING:
    from ..architectures.topk_tp import ShardedTopKSAE
    from ..perf_logger import PerfLogger


def _next_batch(it, loader):
    try:
        return it, next(it)
    except StopIteration:
        it = iter(loader)
        return it, next(it)


def _shared_batch(rank, it, loader, device, group, distributed):
    x = None
    if rank == 0:
        it, batch = _next_batch(it, loader)
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        x = x.to(device).contiguous()
        shape = torch.tensor(list(x.shape), dtype=torch.long, device=device)
    else:
        shape = torch.empty(2, dtype=torch.long, device=device)
    if distributed:
        dist.broadcast(shape, src=dist.get_global_rank(group, 0) if group else 0, group=group)
        if rank != 0:
            x = torch.empty(int(shape[0]), int(shape[1]), device=device)
        dist.broadcast(x, src=dist.get_global_rank(group, 0) if group else 0, group=group)
    return it, x


def train_tp_loop(
    sae: ShardedTopKSAE,
    dataloader: Iterable,
    *,
    lr: float,
    max_steps: int,
    device: str | torch.device,
    log_interval: int = 100,
    max_grad_norm: float | None = None,
    checkpoint_dir: str | Path | None = None,
    group: dist.ProcessGroup | None = None,
    perf_logger: PerfLogger | None = None,
) -> float:
    """Run ``max_steps`` Adam steps on ``sae``; -> the last loss. Saves shards if asked."""
    rank = dist.get_rank(group) if dist.is_initialized() else 0
    distributed = dist.is_initialized() and dist.get_world_size(group) > 1
    sae = sae.to(device)
    sae.train()
    opt = torch.optim.Adam(sae.parameters(), lr=lr)
    it = iter(dataloader) if rank == 0 else None
    last = float("nan")
    t0 = time.time()
    for step in range(max_steps):
        it, x = _shared_batch(rank, it, dataloader, device, group, distributed)
        opt.zero_grad(set_to_none=True)
        out = sae.loss(x)
        out["total"].backward()
        sae.reduce_replicated_grads()
        grad_norm = None
        if max_grad_norm is not None:
            grad_norm = float(torch.nn.utils.clip_grad_norm_(sae.parameters(), max_grad_norm))
        opt.step()
        sae.post_step()
        last = float(out["total"].detach())
        if rank != 0:
            continue
        if perf_logger is not None:
            perf_logger.log_step(
                step=step,
                batch=x,
                loss_dict={k: float(v) for k, v in out.items()},
                grad_norm=grad_norm,
                lr=lr,
                extra_metrics={"dead_pct": float(out["dead_pct"])},
            )
        elif step % log_interval == 0 or step == max_steps - 1:
            rate = (step + 1) / max(time.time() - t0, 1e-9)
            print(
                f"step {step:>7} | loss {last:.6f} | fvu {float(out['fvu']):.4f} "
                f"| dead% {float(out['dead_pct']):.2f} | {rate:.1f} steps/s",
                flush=True,
            )
    if rank == 0 and perf_logger is not None:
        perf_logger.finish()
    if checkpoint_dir is not None:
        from .checkpoint import save_sharded

        save_sharded(sae, checkpoint_dir, rank=rank)
    return last
