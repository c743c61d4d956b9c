"""Trainer: Adam, warmup + schedule, clipping, accumulation, checkpoints/resume, DDP, logging.

Checkpoints (``checkpoint_step_{N}.pt`` every ``checkpoint_steps`` and ``checkpoint_final.pt``)
hold only tensors, dicts and primitives, so ``torch.load(weights_only=True)`` reads them:
``model_state_dict`` (no ``module.`` prefix), ``input_dim``, ``hidden_dim``, ``model_config``,
``global_step``, ``epoch``, ``batch_in_epoch``, ``config``, ``optimizer_state_dict``,
``world_size``. Resuming restores model, optimizer, step and data position, so a resumed CPU run
with a fixed seed ends bit-identical to an uninterrupted one.

DDP: launch under ``torchrun``; ``ParallelConfig.dp_size`` must equal ``WORLD_SIZE``. The
process group is created before any batch count is computed, and the per-epoch batch count is
all-reduced (MIN) so every rank takes the same number of steps.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from sae.activation_store import ActivationStore
from sae.loaders import DataLoaderSource, TensorLoader
from sae.schedule import SCHEDULES, compute_horizon, lr_at
from sae.utils import get_device
from torch import nn


@dataclass
class TrainingConfig:
    lr: float = 3e-4
    n_epochs: int = 1
    batch_size: int = 4096
    device: str = "auto"
    log_interval: int = 50
    checkpoint_dir: str | None = None
    checkpoint_steps: int | None = None
    warmup_steps: int = 0
    grad_accumulation_steps: int = 1
    max_grad_norm: float | None = None
    lr_schedule: str = "constant"
    lr_min: float = 0.0
    lr_decay_steps: int | None = None
    max_steps: int | None = None
    seed: int = 0
    shuffle: bool = True
    mix_shards: int = 1
    max_shards: int | None = None
    show_progress: bool = True

    def __post_init__(self) -> None:
        checks = {
            "lr": self.lr > 0,
            "n_epochs": self.n_epochs >= 1,
            "batch_size": self.batch_size >= 1,
            "log_interval": self.log_interval >= 1,
            "warmup_steps": self.warmup_steps >= 0,
            "grad_accumulation_steps": self.grad_accumulation_steps >= 1,
            "lr_min": 0 <= self.lr_min <= self.lr,
            "checkpoint_steps": self.checkpoint_steps is None or self.checkpoint_steps >= 1,
            "max_steps": self.max_steps is None or self.max_steps >= 1,
            "lr_decay_steps": self.lr_decay_steps is None or self.lr_decay_steps >= 1,
            "max_grad_norm": self.max_grad_norm is None or self.max_grad_norm > 0,
            "mix_shards": self.mix_shards >= 1,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            vals = ", ".join(f"{k}={getattr(self, k)!r}" for k in bad)
            raise ValueError(f"TrainingConfig: invalid {vals} (lr_min must be in [0, lr])")
        if self.lr_schedule not in SCHEDULES:
            raise ValueError(
                f"TrainingConfig.lr_schedule must be one of {SCHEDULES}, got {self.lr_schedule!r}"
            )


@dataclass
class WandbConfig:
    enabled: bool = False
    project: str = "sae"
    entity: str | None = None
    run_name: str | None = None
    tags: list[str] = field(default_factory=list)
    config: dict = field(default_factory=dict)


@dataclass
class ParallelConfig:
    dp_size: int = 1
    backend: str | None = None  # None: nccl on CUDA, gloo otherwise


class _LossModule(nn.Module):
    """Lets DDP wrap ``model.loss`` (its forward is what DDP hooks for gradient sync)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model.loss(x)


def _check_world(parallel: ParallelConfig) -> int:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if int(parallel.dp_size) != world:
        raise ValueError(
            f"ParallelConfig.dp_size={parallel.dp_size} but WORLD_SIZE={world} processes were "
            "launched: pass --dp-size equal to torchrun's --nproc_per_node x nodes (otherwise "
            "each process would train its own SAE, or the run would wait for missing ranks)"
        )
    return world


def _atomic_save(obj: dict, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


class Trainer:
    """Train an SAE (``TopKSAE``/``ReLUSAE``) on a store, DataLoader or in-RAM tensor."""

    def __init__(
        self,
        model: nn.Module,
        config: TrainingConfig | None = None,
        wandb_config: WandbConfig | None = None,
        perf_logger=None,
        parallel_config: ParallelConfig | None = None,
    ):
        self.model = model
        self.config = config or TrainingConfig()
        self.wandb_config = wandb_config or WandbConfig()
        self.perf_logger = perf_logger
        self.parallel_config = parallel_config or ParallelConfig()
        self.global_step = 0
        self.rank, self.world_size = 0, 1
        self.history: list[dict] = []

    # ------------------------------------------------------------------ setup
    def _init_distributed(self, device: torch.device) -> bool:
        world = _check_world(self.parallel_config)
        if world == 1:
            return False
        created = False
        if not dist.is_initialized():
            backend = self.parallel_config.backend or ("nccl" if device.type == "cuda" else "gloo")
            dist.init_process_group(backend=backend)
            created = True
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        return created

    def _make_source(self, data, data_sharded: bool):
        c = self.config
        rank, world = (0, 1) if data_sharded else (self.rank, self.world_size)
        if isinstance(data, (str, os.PathLike)):
            data = ActivationStore(data)
        if isinstance(data, ActivationStore):
            return data.get_streaming_dataloader(
                c.batch_size,
                shuffle=c.shuffle,
                seed=c.seed,
                rank=rank,
                world_size=world,
                max_shards=c.max_shards,
                mix_shards=c.mix_shards,
            )
        if isinstance(data, torch.Tensor):
            return TensorLoader(data, c.batch_size, c.shuffle, c.seed, rank, world)
        if hasattr(data, "set_position") and hasattr(data, "__len__"):
            return data
        return DataLoaderSource(data)

    def _common_batches(self, n: int, device: torch.device) -> int:
        if self.world_size == 1:
            return n
        t = torch.tensor([n], dtype=torch.long, device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MIN)
        return int(t.item())

    def _init_wandb(self):
        w = self.wandb_config
        if not w.enabled or self.rank != 0:
            return None
        try:
            import wandb
        except ImportError as exc:
            raise ImportError(
                "WandbConfig.enabled=True but wandb is not installed: pip install 'sae[wandb]' "
                "or run without --wandb"
            ) from exc
        cfg = {**dataclasses.asdict(self.config), **w.config}
        return wandb.init(
            project=w.project, entity=w.entity, name=w.run_name, tags=w.tags, config=cfg
        )

    # ------------------------------------------------------------------ checkpoints
    def _checkpoint(self, optimizer, epoch: int, batch_in_epoch: int) -> dict:
        m = self.model
        cfg = m.config_dict() if hasattr(m, "config_dict") else {}
        return {
            "model_state_dict": {k: v.detach().cpu() for k, v in m.state_dict().items()},
            "input_dim": int(getattr(m, "input_dim", 0)),
            "hidden_dim": int(getattr(m, "hidden_dim", 0)),
            "model_config": cfg,
            "global_step": int(self.global_step),
            "epoch": int(epoch),
            "batch_in_epoch": int(batch_in_epoch),
            "config": dataclasses.asdict(self.config),
            "optimizer_state_dict": optimizer.state_dict(),
            "world_size": int(self.world_size),
        }

    def save_checkpoint(self, path, optimizer, epoch: int, batch_in_epoch: int) -> None:
        if self.rank == 0:
            _atomic_save(self._checkpoint(optimizer, epoch, batch_in_epoch), Path(path))

    # ------------------------------------------------------------------ fit
    def fit(self, data, resume_from=None, data_sharded: bool = False) -> dict:
        """Train; -> summary dict (global_step, total_steps, steps_per_epoch, last metrics)."""
        c = self.config
        device = get_device(c.device)
        created_pg = self._init_distributed(device)  # before any batch count is computed
        try:
            return self._fit(data, resume_from, data_sharded, device)
        finally:
            if created_pg and dist.is_initialized():
                dist.barrier()
                dist.destroy_process_group()

    def _fit(self, data, resume_from, data_sharded: bool, device: torch.device) -> dict:
        c = self.config
        source = self._make_source(data, data_sharded)
        n_batches = self._common_batches(len(source), device)
        accum = c.grad_accumulation_steps
        steps_per_epoch, total, decay = compute_horizon(
            n_batches, c.n_epochs, accum, c.max_steps, c.lr_decay_steps, c.lr_schedule
        )
        model = self.model.to(device)
        model.train()
        runner: nn.Module = _LossModule(model)
        if self.world_size > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            # dead-latent counters are per rank unless dead_count_global all-reduces them:
            # never overwrite them from rank 0 on forward (the kwarg was renamed in torch 2.13)
            sync_kw = (
                {"forward_sync_buffers": False}
                if "forward_sync_buffers" in inspect.signature(DDP).parameters
                else {"broadcast_buffers": False}
            )
            runner = DDP(
                runner,
                device_ids=[device.index] if device.type == "cuda" else None,
                **sync_kw,
            )
        optimizer = torch.optim.Adam(model.parameters(), lr=c.lr)
        start_epoch, start_batch = 0, 0
        if resume_from is not None:
            ckpt = torch.load(resume_from, map_location=device, weights_only=True)
            model.load_state_dict(ckpt["model_state_dict"])
            optimizer.load_state_dict(ckpt["optimizer_state_dict"])
            self.global_step = int(ckpt["global_step"])
            start_epoch = int(ckpt["epoch"])
            start_batch = int(ckpt.get("batch_in_epoch", 0))
            if start_batch >= steps_per_epoch * accum:
                start_epoch, start_batch = start_epoch + 1, 0
        else:
            self.global_step = 0

        ckpt_dir = Path(c.checkpoint_dir) if c.checkpoint_dir else None
        metrics_f = None
        if ckpt_dir is not None and self.rank == 0:
            ckpt_dir.mkdir(parents=True, exist_ok=True)
            metrics_f = open(ckpt_dir / "metrics.jsonl", "a" if resume_from else "w")
        run = self._init_wandb()
        bar = None
        if self.rank == 0 and c.show_progress:
            from tqdm.auto import tqdm

            bar = tqdm(
                total=total,
                initial=min(self.global_step, total),
                desc="train sae",
                dynamic_ncols=True,
            )
        last: dict = {}
        t0 = time.perf_counter()
        epoch, batch_in_epoch = start_epoch, start_batch
        try:
            for epoch in range(start_epoch, c.n_epochs):
                if self.global_step >= total:
                    break
                first = start_batch if epoch == start_epoch else 0
                source.set_position(epoch, first)
                batch_in_epoch = first
                for x in source:
                    if batch_in_epoch >= steps_per_epoch * accum or self.global_step >= total:
                        break
                    x = x.to(device, non_blocking=True).float()
                    boundary = (batch_in_epoch + 1) % accum == 0
                    if self.world_size > 1 and not boundary:
                        with runner.no_sync():
                            out = runner(x)
                            (out["total"] / accum).backward()
                    else:
                        out = runner(x)
                        (out["total"] / accum).backward()
                    batch_in_epoch += 1
                    if not boundary:
                        continue
                    lr = lr_at(
                        self.global_step, c.lr, c.lr_min, c.warmup_steps, decay, c.lr_schedule
                    )
                    for g in optimizer.param_groups:
                        g["lr"] = lr
                    gnorm = None
                    if c.max_grad_norm is not None:
                        gnorm = float(
                            torch.nn.utils.clip_grad_norm_(model.parameters(), c.max_grad_norm)
                        )
                    optimizer.step()
                    optimizer.zero_grad(set_to_none=True)
                    if hasattr(model, "post_step"):
                        model.post_step()
                    self.global_step += 1
                    if bar is not None:
                        bar.update(1)
                    if self.global_step % c.log_interval == 0 or self.global_step == total:
                        last = {k: float(v.detach()) for k, v in out.items()}
                        last.update(
                            step=self.global_step,
                            epoch=epoch,
                            lr=lr,
                            loss=last.pop("total"),
                            elapsed_s=time.perf_counter() - t0,
                        )
                        if gnorm is not None:
                            last["grad_norm"] = gnorm
                        self._log(last, metrics_f, run, bar)
                    if (
                        ckpt_dir is not None
                        and c.checkpoint_steps
                        and self.global_step % c.checkpoint_steps == 0
                    ):
                        self.save_checkpoint(
                            ckpt_dir / f"checkpoint_step_{self.global_step}.pt",
                            optimizer,
                            epoch,
                            batch_in_epoch,
                        )
            if ckpt_dir is not None:
                self.save_checkpoint(
                    ckpt_dir / "checkpoint_final.pt", optimizer, epoch, batch_in_epoch
                )
        finally:
            if bar is not None:
                bar.close()
            if metrics_f is not None:
                metrics_f.close()
            if run is not None:
                run.finish()
        model.eval()
        return {
            "global_step": self.global_step,
            "total_steps": total,
            "steps_per_epoch": steps_per_epoch,
            "metrics": last,
        }

    def _log(self, metrics: dict, metrics_f, run, bar) -> None:
        self.history.append(metrics)
        if self.rank != 0:
            return
        if metrics_f is not None:
            metrics_f.write(json.dumps(metrics) + "\n")
            metrics_f.flush()
        if run is not None:
            run.log(metrics, step=metrics["step"])
        if self.perf_logger is not None and hasattr(self.perf_logger, "log"):
            self.perf_logger.log(metrics)
        if bar is not None:
            bar.set_postfix(
                loss=f"{metrics['loss']:.4f}",
                fvu=f"{metrics.get('fvu', 0):.3f}",
                dead=f"{metrics.get('dead_pct', 0):.1f}%",
            )
