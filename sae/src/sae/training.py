"""Trainer: Adam, warmup + schedule, clipping, accumulation, checkpoints/resume, DDP, logging.

Same surface as the shared ``sae`` library's trainer (``TrainingConfig``, ``WandbConfig``,
``ParallelConfig``, ``Trainer(model, config, optimizer, loss_fn, wandb_config, perf_logger,
parallel_config)``, ``fit(...) -> final epoch's mean loss``) with these extensions:

* **Exact resume.** Checkpoints (``checkpoint_step_{N}.pt`` every ``checkpoint_steps``, and
  ``checkpoint_final.pt``) hold only tensors, dicts and primitives, so
  ``torch.load(weights_only=True)`` reads them: ``model_state_dict`` (no ``module.`` prefix),
  ``input_dim``, ``hidden_dim``, ``model_config``, ``global_step``, ``epoch``, ``config`` and
  ``optimizer_state_dict`` as the shared library writes them, plus ``batch_in_epoch`` and
  ``world_size``. Resuming restores model, optimizer, step and data position, so a resumed CPU
  run with a fixed seed ends bit-identical to an uninterrupted one. Files are written to a
  temporary name, synced and renamed: a failed write (disk full) raises ``CheckpointWriteError``
  naming the file and leaves nothing behind.
* **Non-finite loss stops training** at once with ``NonFiniteLossError`` naming the step; no
  optimizer step is taken with it and no final checkpoint is written.
* ``metrics.jsonl`` in ``checkpoint_dir`` (rank 0): one JSON line per ``log_interval`` steps
  (step, epoch, lr, loss, fvu, dead_pct, l0, aux, elapsed_s, grad_norm); non-finite values are
  written as ``null``. ``dead_pct`` is the one dead-latent definition of
  ``sae.eval.dead_latents`` (latents inactive for more than ``dead_tokens_threshold`` training
  tokens), the figure ``evaluate_sparsity`` reports as ``dead_pct``. It can only move once the
  run has seen more tokens than that threshold: until then the row says ``dead_pct: null`` and
  ``dead_pct_informative: false`` instead of a 0 that means nothing, and always carries
  ``inactive_pct``, the % of latents that did not fire in the last ``inactive_window_tokens``
  (half the tokens seen so far, at most the threshold).
* Opt-in training settings (``TrainingConfig``; the defaults keep the shared library's
  behaviour), applied to the model when ``fit`` starts:
  ``unit_norm_latents`` (``TopKSAE.use_unit_norm_latents``: each latent's decoder direction at
  unit norm instead of the reference's rows-over-latents rule), ``project_decoder_grad``
  (``TopKSAE.use_decoder_grad_projection``), ``pre_bias_init`` ("geometric_median" or "mean" of
  the first batch, set before the first step of a fresh run) and ``dead_tokens_fraction``
  (lowers the model's AuxK ``dead_tokens_threshold`` to that fraction of the run's tokens, so
  AuxK can act at all in a run shorter than the threshold), ``encoder_init`` ("uniform":
  ``TopKSAE.init_encoder_uniform_`` on a fresh run, sparsify's initialisation) and
  ``detach_loss_variance`` (``TopKSAE.use_detached_loss_variance``: no gradient through the
  loss's variance denominator, which otherwise pulls the pre-bias away from the data).
* Data may be a tensor, a DataLoader, an ``ActivationStore`` or its path; DDP works on CPU
  (gloo) as on CUDA (nccl), with the process group created before any batch count is computed
  and the per-epoch batch count all-reduced (MIN) so every rank takes the same number of steps.
* Adam is fused (or foreach) where the device supports it.
"""

from __future__ import annotations

import dataclasses
import inspect
import itertools
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from sae.eval.dead_latents import DeadLatentTracker, counter_dead_pct
from sae.loaders import DataLoaderSource, TensorLoader
from sae.schedule import SCHEDULES, compute_horizon, lr_at, unsized_horizon
from sae.utils import resolve_device
from torch import nn

PRE_BIAS_INITS = ("none", "geometric_median", "mean")
ENCODER_INITS = ("tied", "uniform")


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite (the step, epoch and batch are in the message)."""


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (the file and the reason are in the message)."""


@dataclass
class TrainingConfig:
    """Training settings; the first block mirrors the shared library (same names and defaults).

    ``lr_scale_with_latents`` scales the LR by ``sqrt(lr_reference_hidden_dim / hidden_dim)``;
    ``log_interval`` counts optimizer steps (metrics lines, progress bar). ``num_workers`` and
    ``pin_memory`` apply to batches the trainer serves from a tensor (pinned before the copy to
    CUDA); a DataLoader passed in keeps its own settings. Extensions: ``seed`` (shuffling),
    ``mix_shards``/``max_shards`` (when given a store), ``show_progress`` (tqdm bar on rank 0),
    and the opt-in ``unit_norm_latents``, ``project_decoder_grad``, ``pre_bias_init``,
    ``dead_tokens_fraction``, ``encoder_init`` and ``detach_loss_variance`` (see the module
    docstring).
    """

    lr: float = 3e-4
    n_epochs: int = 10
    batch_size: int = 4096
    device: str = "cuda"
    log_interval: int = 100
    shuffle: bool = True
    num_workers: int = 0
    pin_memory: bool = False
    checkpoint_dir: str | None = None
    checkpoint_steps: int | None = None
    lr_scale_with_latents: bool = False
    lr_reference_hidden_dim: int = 2048
    warmup_steps: int = 0
    grad_accumulation_steps: int = 1
    max_grad_norm: float | None = None
    lr_schedule: str = "constant"
    lr_min: float = 0.0
    lr_decay_steps: int | None = None
    max_steps: int | None = None
    # extensions
    seed: int = 0
    mix_shards: int = 1
    max_shards: int | None = None
    show_progress: bool = True
    unit_norm_latents: bool = False
    project_decoder_grad: bool = False
    pre_bias_init: str = "none"
    dead_tokens_fraction: float | None = None
    encoder_init: str = "tied"
    detach_loss_variance: bool = False

    def __post_init__(self) -> None:
        checks = {
            "lr": self.lr > 0,
            "n_epochs": self.n_epochs >= 1,
            "batch_size": self.batch_size >= 1,
            "log_interval": self.log_interval >= 1,
            "num_workers": self.num_workers >= 0,
            "lr_reference_hidden_dim": self.lr_reference_hidden_dim >= 1,
            "warmup_steps": self.warmup_steps >= 0,
            "grad_accumulation_steps": self.grad_accumulation_steps >= 1,
            "lr_min": 0 <= self.lr_min <= self.lr,
            "checkpoint_steps": self.checkpoint_steps is None or self.checkpoint_steps >= 1,
            "max_steps": self.max_steps is None or self.max_steps >= 1,
            "lr_decay_steps": self.lr_decay_steps is None or self.lr_decay_steps >= 1,
            "max_grad_norm": self.max_grad_norm is None or self.max_grad_norm > 0,
            "mix_shards": self.mix_shards >= 1,
            "dead_tokens_fraction": self.dead_tokens_fraction is None
            or 0 < self.dead_tokens_fraction <= 1,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            vals = ", ".join(f"{k}={getattr(self, k)!r}" for k in bad)
            raise ValueError(f"TrainingConfig: invalid {vals} (lr_min must be in [0, lr])")
        if self.lr_schedule not in SCHEDULES:
            raise ValueError(
                f"Unknown lr_schedule: {self.lr_schedule!r}. Expected one of {SCHEDULES}."
            )
        if self.encoder_init not in ENCODER_INITS:
            raise ValueError(
                f"TrainingConfig: encoder_init={self.encoder_init!r}; expected one of "
                f"{ENCODER_INITS}"
            )
        if self.pre_bias_init not in PRE_BIAS_INITS:
            raise ValueError(
                f"TrainingConfig: pre_bias_init={self.pre_bias_init!r}; expected one of "
                f"{PRE_BIAS_INITS}"
            )


@dataclass
class WandbConfig:
    """Weights & Biases logging (rank 0). ``log_interval``: steps between logs when no
    PerfLogger is given. Extensions: ``entity``, ``tags``."""

    enabled: bool = False
    project: str = "biosae"
    run_name: str | None = None
    group: str | None = None
    job_type: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    log_interval: int = 10
    # extensions
    entity: str | None = None
    tags: list[str] = field(default_factory=list)


@dataclass
class ParallelConfig:
    """Data parallelism: ``dp_size`` processes (must equal WORLD_SIZE). Extension: ``backend``
    (None: nccl on CUDA, gloo otherwise)."""

    dp_size: int = 1
    backend: str | None = None


class _LossModule(nn.Module):
    """Lets DDP wrap ``model.loss`` (its forward is what DDP hooks for gradient sync)."""

    def __init__(self, model: nn.Module, loss_kwargs: dict):
        super().__init__()
        self.model = model
        self.loss_kwargs = loss_kwargs

    def forward(self, x):
        return self.model.loss(x, **self.loss_kwargs)


def _check_world(parallel: ParallelConfig) -> int:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if int(parallel.dp_size) != world:
        raise RuntimeError(
            f"ParallelConfig.dp_size={parallel.dp_size} but WORLD_SIZE={world} processes were "
            "launched: pass --dp-size equal to torchrun's --nproc_per_node x nodes (otherwise "
            "each process would train its own SAE, or the run would wait for missing ranks)"
        )
    return world


def atomic_save(obj: dict, path: Path) -> None:
    """``torch.save`` to a temporary file beside ``path``, fsync, rename; nothing left on error."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except (OSError, RuntimeError) as exc:
        tmp.unlink(missing_ok=True)
        reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
        raise CheckpointWriteError(
            f"cannot write checkpoint {path}: {reason}; free disk space or point the "
            "checkpoint directory (--output-dir) at a filesystem with room, then resume from "
            "the last step checkpoint"
        ) from exc


def _make_adam(params, lr: float) -> torch.optim.Optimizer:
    """Adam, fused where the parameters' device supports it, else foreach (same update rule);
    :class:`~sae.kernels.dense_adam.LayoutAdam` (torch's Adam without per-step copies of
    transposed-stored weights, bit-identical results)."""
    from sae.kernels.dense_adam import LayoutAdam, layout_adam_supported

    adam = LayoutAdam if layout_adam_supported() else torch.optim.Adam
    params = list(params)
    for kw in ({"fused": True}, {"foreach": True}):
        try:
            return adam(params, lr=lr, **kw)
        except (RuntimeError, TypeError, ValueError):
            continue
    return adam(params, lr=lr)


def _finite_or_none(value):
    return value if not isinstance(value, float) or math.isfinite(value) else None


class Trainer:
    """Train an SAE on a tensor, DataLoader, ``ActivationStore`` or store path."""

    def __init__(
        self,
        model: nn.Module,
        config: TrainingConfig | None = None,
        optimizer: torch.optim.Optimizer | None = None,
        loss_fn=None,
        wandb_config: WandbConfig | None = None,
        perf_logger=None,
        parallel_config: ParallelConfig | None = None,
    ):
        self.model = model
        self.config = config or TrainingConfig()
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.wandb_config = wandb_config or WandbConfig()
        self.perf_logger = perf_logger
        self.parallel_config = parallel_config or ParallelConfig()
        self.dead_latent_tracker = DeadLatentTracker(model.hidden_dim)
        self.rank, self.world_size = 0, 1
        self.is_distributed = False
        self.dataloader = None
        self.wandb_run = None
        self.global_step = 0
        self.current_epoch = 0
        self.batch_in_epoch = 0
        self.history: list[dict] = []
        self.summary: dict = {}
        self._target_lr = self.config.lr

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
        self.is_distributed = True
        return created

    def _make_source(self, data, data_sharded: bool):
        from sae.activation_store import ActivationStore

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
        if hasattr(data, "__iter__"):
            return DataLoaderSource(data)
        raise TypeError(
            "Trainer.fit: data must be a Tensor, a DataLoader, an ActivationStore or its path, "
            f"not {type(data).__name__}"
        )

    def _common_batches(self, n: int, device: torch.device) -> int:
        if self.world_size == 1:
            return n
        t = torch.tensor([n], dtype=torch.long, device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MIN)
        return int(t.item())

    def _compute_effective_lr(self) -> float:
        """``lr``, scaled by sqrt(reference / hidden_dim) when ``lr_scale_with_latents``."""
        c = self.config
        if not c.lr_scale_with_latents:
            return c.lr
        return c.lr * math.sqrt(c.lr_reference_hidden_dim / self.model.hidden_dim)

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
        m = self.model
        cfg = {
            "model_class": type(m).__name__,
            "input_dim": getattr(m, "input_dim", None),
            "hidden_dim": getattr(m, "hidden_dim", None),
            "dp_size": self.parallel_config.dp_size,
            "global_batch_size": self.config.batch_size * self.parallel_config.dp_size,
            **dataclasses.asdict(self.config),
            **w.config,
        }
        return wandb.init(
            project=w.project,
            entity=w.entity,
            name=w.run_name,
            group=w.group,
            job_type=w.job_type,
            tags=w.tags,
            config=cfg,
        )

    # ------------------------------------------------------------------ checkpoints
    def _checkpoint(self, optimizer) -> dict:
        m = self.model
        cfg = {}
        for name in ("_get_config", "config_dict"):
            if hasattr(m, name):
                cfg = dict(getattr(m, name)())
                break
        ckpt = {
            "model_state_dict": {k: v.detach().cpu() for k, v in m.state_dict().items()},
            "input_dim": int(getattr(m, "input_dim", 0)),
            "hidden_dim": int(getattr(m, "hidden_dim", 0)),
            "model_config": cfg,
            "global_step": int(self.global_step),
            "epoch": int(self.current_epoch),
            "batch_in_epoch": int(self.batch_in_epoch),
            "config": dataclasses.asdict(self.config),
            "world_size": int(self.world_size),
        }
        if optimizer is not None:
            ckpt["optimizer_state_dict"] = optimizer.state_dict()
        return ckpt

    def save_checkpoint(self, path, optimizer=None) -> None:
        """Write a checkpoint (rank 0 only); see the module docstring for its keys."""
        if self.rank == 0:
            atomic_save(self._checkpoint(optimizer), Path(path))

    def load_checkpoint(self, path, optimizer=None) -> dict:
        """Restore model (and optimizer) state, step and data position; -> the checkpoint.

        Read by ``sae.architectures.loading.read_checkpoint`` (weights_only=True; keys, shapes
        and counters checked against this model): a file that does not fit raises
        ``CheckpointError`` naming it, before anything is changed.
        """
        from sae.architectures.loading import read_checkpoint

        ckpt = read_checkpoint(path, model=self.model)
        self.model.load_state_dict(ckpt["model_state_dict"])
        self.global_step = int(ckpt.get("global_step", 0))
        self.current_epoch = int(ckpt.get("epoch", 0))
        self.batch_in_epoch = int(ckpt.get("batch_in_epoch", 0))
        if optimizer is not None and "optimizer_state_dict" in ckpt:
            optimizer.load_state_dict(ckpt["optimizer_state_dict"])
            for state in optimizer.state.values():  # own memory, not the file's (read with mmap)
                for key, value in state.items():
                    if torch.is_tensor(value) and value.device.type == "cpu":
                        state[key] = value.clone()
        return ckpt

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        data,
        max_grad_norm: float | None = None,
        resume_from=None,
        data_sharded: bool = False,
        **loss_kwargs,
    ) -> float:
        """Train; -> the mean loss of the last epoch (NaN if no batch ran).

        ``max_grad_norm`` overrides the config's; ``data_sharded``: each rank already holds its
        own slice (no further split); ``loss_kwargs`` go to the loss function. The run's summary
        (global_step, total_steps, steps_per_epoch, last metrics) is left in ``self.summary``.
        """
        device = resolve_device(self.config.device)
        created_pg = self._init_distributed(device)  # before any batch count is computed
        try:
            return self._fit(data, max_grad_norm, resume_from, data_sharded, device, loss_kwargs)
        finally:
            if created_pg and dist.is_initialized():
                dist.barrier()
                dist.destroy_process_group()

    def _fit(self, data, max_grad_norm, resume_from, data_sharded, device, loss_kwargs) -> float:
        c = self.config
        if max_grad_norm is None:
            max_grad_norm = c.max_grad_norm
        source = self._make_source(data, data_sharded)
        self.dataloader = source
        accum = c.grad_accumulation_steps
        known = getattr(source, "n_batches", None) if isinstance(source, DataLoaderSource) else 0
        if known is None:  # a stream without len(): the horizon comes from max_steps
            if self.world_size > 1:
                raise ValueError(
                    "Trainer.fit: a data loader without len() under DDP lets ranks take different "
                    "numbers of steps (a hang); pass an ActivationStore, a tensor or a sized loader"
                )
            steps_per_epoch, total, decay = unsized_horizon(
                c.max_steps, c.lr_decay_steps, c.lr_schedule, c.warmup_steps
            )
        else:
            n_batches = self._common_batches(len(source), device)
            steps_per_epoch, total, decay = compute_horizon(
                n_batches, c.n_epochs, accum, c.max_steps, c.lr_decay_steps, c.lr_schedule,
                c.warmup_steps,
            )  # fmt: skip
        model = self.model.to(device)
        model.train()
        if resume_from is None:
            self._init_encoder(model)
        self._apply_decoder_options(model, fresh=resume_from is None)
        if resume_from is None:
            self._init_pre_bias(model, source, device)
        self._cap_dead_threshold(model, total)
        if self.loss_fn is not None:
            runner = lambda x: self.loss_fn(x, **loss_kwargs)  # noqa: E731
        else:
            runner = _LossModule(model, loss_kwargs)
            if self.world_size > 1:
                from torch.nn.parallel import DistributedDataParallel as DDP

                # dead-latent counters are per rank unless dead_count_global all-reduces them:
                # never overwrite them from rank 0 on forward (the kwarg was renamed in 2.13)
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
        if self.optimizer is not None:
            optimizer = self.optimizer
            self._target_lr = c.lr
        else:
            self._target_lr = self._compute_effective_lr()
            optimizer = _make_adam(model.parameters(), self._target_lr)
        self.dead_latent_tracker = DeadLatentTracker(model.hidden_dim, device=str(device))
        start_epoch, start_batch = 0, 0
        if resume_from is not None:
            self.load_checkpoint(resume_from, optimizer)
            start_epoch, start_batch = self.current_epoch, self.batch_in_epoch
            if steps_per_epoch is not None and start_batch >= steps_per_epoch * accum:
                start_epoch, start_batch = start_epoch + 1, 0
        else:
            self.global_step = 0

        ckpt_dir = Path(c.checkpoint_dir) if c.checkpoint_dir else None
        metrics_f = None
        if ckpt_dir is not None and self.rank == 0:
            ckpt_dir.mkdir(parents=True, exist_ok=True)
            metrics_f = open(ckpt_dir / "metrics.jsonl", "a" if resume_from else "w")
        self.wandb_run = self._init_wandb()
        if self.perf_logger is not None:
            self.perf_logger.reset()
        bar = None
        if self.rank == 0 and c.show_progress:
            from tqdm.auto import tqdm

            bar = tqdm(
                total=None if math.isinf(total) else total,
                initial=self.global_step,
                desc="train sae",
                dynamic_ncols=True,
            )
        last: dict = {}
        epoch_losses: list[float] = []
        t0 = time.perf_counter()
        gbs = c.batch_size * self.world_size * accum
        pin = c.pin_memory and device.type == "cuda"
        try:
            epochs = (
                itertools.count(start_epoch)
                if c.max_steps is not None
                else range(start_epoch, c.n_epochs)
            )  # max_steps is a budget: epochs repeat until it is spent, like the shared library
            for epoch in epochs:
                if self.global_step >= total:
                    break
                first = start_batch if epoch == start_epoch else 0
                source.set_position(epoch, first)
                self.current_epoch, self.batch_in_epoch = epoch, first
                batch_losses: list[float] = []
                for x in source:
                    if self.global_step >= total or (
                        steps_per_epoch is not None
                        and self.batch_in_epoch >= steps_per_epoch * accum
                    ):
                        break
                    if pin:
                        x = x.pin_memory()
                    x = x.to(device, non_blocking=True).float()
                    boundary = (self.batch_in_epoch + 1) % accum == 0
                    if self.world_size > 1 and not boundary and hasattr(runner, "no_sync"):
                        with runner.no_sync():
                            out = runner(x)
                            (out["total"] / accum).backward()
                    else:
                        out = runner(x)
                        (out["total"] / accum).backward()
                    loss_value = float(out["total"].detach())
                    bad_rank = self._non_finite_rank(loss_value, device)
                    if bad_rank is not None:
                        optimizer.zero_grad(set_to_none=True)
                        where = "" if self.world_size == 1 else f" on rank {bad_rank}"
                        value = loss_value if bad_rank == self.rank else "non-finite"
                        raise NonFiniteLossError(
                            f"training loss is {value}{where} at step {self.global_step} (epoch "
                            f"{epoch}, batch {self.batch_in_epoch}): stopped before the "
                            "optimizer step, no checkpoint written. Check the activations for "
                            "NaN/Inf (re-extract with --dtype float32) or lower --lr"
                        )
                    batch_losses.append(loss_value)
                    self.batch_in_epoch += 1
                    if not boundary:
                        continue
                    lr = lr_at(
                        self.global_step, self._target_lr, c.lr_min, c.warmup_steps, decay,
                        c.lr_schedule,
                    )  # fmt: skip
                    for g in optimizer.param_groups:
                        g["lr"] = lr
                    gnorm = None
                    if max_grad_norm is not None:
                        gnorm = float(
                            torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
                        )
                    optimizer.step()
                    optimizer.zero_grad(set_to_none=True)
                    if hasattr(model, "post_step"):
                        model.post_step()
                    self._perf_log(x, out, gnorm, lr, gbs, model)
                    self.global_step += 1
                    if bar is not None:
                        bar.update(1)
                    if self.global_step % c.log_interval == 0 or self.global_step == total:
                        last = self._metrics_row(out, epoch, lr, gnorm, t0, model)
                        self._log(last, metrics_f, bar)
                    if (
                        ckpt_dir is not None
                        and c.checkpoint_steps
                        and self.global_step % c.checkpoint_steps == 0
                    ):
                        self.save_checkpoint(
                            ckpt_dir / f"checkpoint_step_{self.global_step}.pt", optimizer
                        )
                if batch_losses:
                    epoch_losses.append(sum(batch_losses) / len(batch_losses))
                elif steps_per_epoch is None:
                    break  # an exhausted stream: no more data
            if self.perf_logger is not None and self.rank == 0:
                self.perf_logger.finish()
            if ckpt_dir is not None:
                self.save_checkpoint(ckpt_dir / "checkpoint_final.pt", optimizer)
        finally:
            if bar is not None:
                bar.close()
            if metrics_f is not None:
                metrics_f.close()
            if self.wandb_run is not None:
                self.wandb_run.finish()
        model.eval()
        self.summary = {
            "global_step": self.global_step,
            "total_steps": total,
            "steps_per_epoch": steps_per_epoch,
            "metrics": last,
        }
        return epoch_losses[-1] if epoch_losses else float("nan")

    def _init_encoder(self, model) -> None:
        """``encoder_init="uniform"``: the model's ``init_encoder_uniform_`` on a fresh run (DDP
        then broadcasts rank 0's weights)."""
        if self.config.encoder_init == "tied":
            return
        if not hasattr(model, "init_encoder_uniform_"):
            raise ValueError(
                f"TrainingConfig.encoder_init={self.config.encoder_init!r} but "
                f"{type(model).__name__} has no init_encoder_uniform_(); use encoder_init='tied'"
            )
        model.init_encoder_uniform_()

    def _apply_decoder_options(self, model, fresh: bool) -> None:
        """``unit_norm_latents`` / ``project_decoder_grad`` / ``detach_loss_variance`` -> the
        model's opt-in methods."""
        c = self.config
        for flag, method in (
            ("unit_norm_latents", "use_unit_norm_latents"),
            ("project_decoder_grad", "use_decoder_grad_projection"),
            ("detach_loss_variance", "use_detached_loss_variance"),
        ):
            if not getattr(c, flag):
                continue
            if not hasattr(model, method):
                raise ValueError(
                    f"TrainingConfig.{flag}=True but {type(model).__name__} has no {method}(); "
                    f"set {flag}=False for this model"
                )
            if flag == "unit_norm_latents" and not fresh:
                model.unit_norm_latents = True  # resumed weights are already normalised
                continue
            getattr(model, method)()

    def _init_pre_bias(self, model, source, device: torch.device) -> None:
        """``pre_bias_init``: the geometric median or mean of the first batch (in the model's
        input space), before the first step; DDP then broadcasts rank 0's value."""
        how = self.config.pre_bias_init
        if how == "none":
            return
        if not hasattr(model, "pre_bias"):
            raise ValueError(
                f"TrainingConfig.pre_bias_init={how!r} but {type(model).__name__} has no "
                "pre_bias; use pre_bias_init='none'"
            )
        source.set_position(0, 0)
        x = next(iter(source), None)
        if x is None:
            return
        x = x.to(device).float()
        if how == "geometric_median" and hasattr(model, "init_pre_bias_from_data"):
            model.init_pre_bias_from_data(x)
            return
        if getattr(model, "normalize_input", False):
            from sae.architectures.base import standardize

            x = standardize(x)[0]
        with torch.no_grad():
            model.pre_bias.copy_(x.mean(dim=0))

    def _cap_dead_threshold(self, model, total) -> None:
        """``dead_tokens_fraction``: lower the model's ``dead_tokens_threshold`` to that
        fraction of the run's tokens (never raise it)."""
        frac = self.config.dead_tokens_fraction
        if frac is None or math.isinf(total):
            return
        if getattr(model, "dead_tokens_threshold", None) is None:
            raise ValueError(
                "TrainingConfig.dead_tokens_fraction is set but the model has no "
                "dead_tokens_threshold; leave it unset"
            )
        c = self.config
        run_tokens = int(total) * c.batch_size * self.world_size * c.grad_accumulation_steps
        model.dead_tokens_threshold = min(
            int(model.dead_tokens_threshold), max(1, int(frac * run_tokens))
        )

    def _tokens_seen(self) -> int:
        c = self.config
        return self.global_step * c.batch_size * self.world_size * c.grad_accumulation_steps

    def _dead_fields(self, model) -> dict:
        """dead_pct (None while it cannot move), dead_pct_informative, inactive_pct/window."""
        dead = counter_dead_pct(model)
        threshold = getattr(model, "dead_tokens_threshold", None)
        counter = getattr(model, "stats_last_nonzero", None)
        if dead is None or threshold is None or not isinstance(counter, torch.Tensor):
            return {} if dead is None else {"dead_pct": dead}
        seen = self._tokens_seen()
        informative = seen > int(threshold)
        window = max(1, min(int(threshold), seen // 2))
        return {
            "dead_pct": dead if informative else None,
            "dead_pct_informative": informative,
            "inactive_pct": 100.0 * float((counter >= window).float().mean()),
            "inactive_window_tokens": window,
        }

    def _non_finite_rank(self, loss_value: float, device: torch.device) -> int | None:
        """The lowest rank whose loss is NaN/Inf (None if all are finite): every rank stops
        together, before gradients averaged with a NaN reach any optimizer."""
        bad = not math.isfinite(loss_value)
        if self.world_size == 1:
            return 0 if bad else None
        flag = torch.tensor([self.rank if bad else self.world_size], device=device)
        dist.all_reduce(flag, op=dist.ReduceOp.MIN)
        first = int(flag.item())
        return None if first == self.world_size else first

    def _metrics_row(self, out: dict, epoch: int, lr: float, gnorm, t0: float, model) -> dict:
        row = {k: float(v.detach()) if torch.is_tensor(v) else float(v) for k, v in out.items()}
        row.update(
            step=self.global_step,
            epoch=epoch,
            lr=lr,
            loss=row.pop("total"),
            elapsed_s=time.perf_counter() - t0,
        )
        row.update(self._dead_fields(model))
        if gnorm is not None:
            row["grad_norm"] = gnorm
        return {k: v if isinstance(v, bool) else _finite_or_none(v) for k, v in row.items()}

    def _perf_log(self, x, out, gnorm, lr, gbs, model) -> None:
        if self.perf_logger is None or self.rank != 0:
            return
        extra = {"global_batch_size": gbs}
        dead = counter_dead_pct(model)
        if dead is not None:
            extra["dead_latents"] = dead
        self.perf_logger.log_step(
            step=self.global_step,
            batch=x,
            loss_dict=out,
            grad_norm=gnorm,
            lr=lr,
            extra_metrics=extra,
        )

    def _log(self, metrics: dict, metrics_f, bar) -> None:
        self.history.append(metrics)
        if self.rank != 0:
            return
        if metrics_f is not None:
            metrics_f.write(json.dumps(metrics, allow_nan=False) + "\n")
            metrics_f.flush()
        if self.wandb_run is not None and self.perf_logger is None:
            self.wandb_run.log({f"train/{k}": v for k, v in metrics.items()}, step=self.global_step)
        if bar is not None:
            bar.set_postfix(
                loss=f"{metrics.get('loss') or 0:.4f}",
                fvu=f"{metrics.get('fvu') or 0:.3f}",
                dead=f"{metrics.get('dead_pct') or 0:.1f}%",
            )


def train_sae(
    model: nn.Module,
    data,
    lr: float = 3e-4,
    n_epochs: int = 10,
    batch_size: int = 4096,
    device: str = "cuda",
    log_interval: int = 1,
    warmup_steps: int = 0,
    max_grad_norm: float | None = None,
    lr_schedule: str = "constant",
    lr_min: float = 0.0,
    **loss_kwargs,
) -> float:
    """One-call training: a ``Trainer`` with these settings; -> the last epoch's mean loss."""
    config = TrainingConfig(
        lr=lr,
        n_epochs=n_epochs,
        batch_size=batch_size,
        device=device,
        log_interval=log_interval,
        warmup_steps=warmup_steps,
        max_grad_norm=max_grad_norm,
        lr_schedule=lr_schedule,
        lr_min=lr_min,
    )
    return Trainer(model, config).fit(data, **loss_kwargs)
