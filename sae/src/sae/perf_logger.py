"""PerfLogger: per-step training telemetry averaged over a logging window.

Each ``log_step`` records the step time (wall time since the previous call), samples per second,
the loss terms (``total`` is reported as ``train/loss``, every other key ``k`` as ``train/k``),
gradient norm, learning rate, extra metrics and (on CUDA) allocated GPU memory. Every
``log_interval`` steps the window means are printed and/or sent to wandb, returned, and the window
starts over. ``min_loss`` tracks the lowest ``total`` seen since ``reset``.
"""

from __future__ import annotations

import time
from collections import defaultdict

import numpy as np
import torch

try:
    import wandb

    HAS_WANDB = True
except ImportError:  # optional dependency
    wandb = None
    HAS_WANDB = False

# (metric key, label, format) in the order the printed line shows them
_PRINTED = (
    ("train/fvu", "fvu", "{:.4f}"),
    ("train/loss", "loss", "{:.4f}"),
    ("train/samples_per_second", "samples/s", "{:.1f}"),
    ("train/step_time", "step_time", None),
    ("train/gpu_memory_allocated_max_gb", "gpu_mem", "{:.2f}GB"),
    ("train/sparsity", "avg_nonzero_act", "{}"),
    ("train/grad_norm", "grad_norm", "{:.4f}"),
    ("train/dead_latents", "dead_latents (%)", "{:.4f}"),
    ("train/reconstruction", "reconstruction", "{:.4f}"),
    ("train/l1", "l1", "{:.4f}"),
    ("train/variance_explained", "var_exp", "{:.4f}"),
    ("train/mse", "mse", "{:.6f}"),
)


def _scalar(value) -> float:
    return float(value.detach().item()) if torch.is_tensor(value) else float(value)


def _fmt(label: str, fmt: str | None, value: float) -> str:
    # step time (fmt None) is shown in milliseconds
    return f"{label}: {value * 1000:.1f}ms" if fmt is None else f"{label}: {fmt.format(value)}"


class _Window:
    """What one logging window accumulates."""

    def __init__(self) -> None:
        self.metrics: dict[str, list[float]] = defaultdict(list)
        self.gpu_gb: list[float] = []

    def add(self, key: str, value: float) -> None:
        self.metrics[key].append(value)

    def means(self) -> dict[str, float]:
        return {k: float(np.mean(v)) for k, v in self.metrics.items() if v}


class PerfLogger:
    """Window-averaged step metrics to stdout and/or wandb (see the module docstring)."""

    def __init__(
        self,
        log_interval: int = 10,
        use_wandb: bool = True,
        print_logs: bool = True,
        device: str = "cuda",
    ):
        self.log_interval = log_interval
        if use_wandb and not HAS_WANDB:
            print("Warning: wandb not installed. Install with: pip install wandb")
        self.use_wandb = bool(use_wandb and HAS_WANDB)
        self.print_logs = print_logs
        self.device = device
        self._gpu_available = torch.cuda.is_available() and "cuda" in str(device)
        self._start_run()

    def _start_run(self) -> None:
        self._window = _Window()
        self._previous_step_time: float | None = None
        self.min_loss = float("inf")
        self._train_start_time = time.perf_counter()

    def _gpu_gb(self, peak: bool = False) -> float:
        if not self._gpu_available:
            return 0.0
        used = torch.cuda.max_memory_allocated() if peak else torch.cuda.memory_allocated()
        return used / 2**30

    def _wandb_log(self, values: dict, **kwargs) -> None:
        if self.use_wandb and wandb.run is not None:
            wandb.log(values, **kwargs)

    def log_step(
        self,
        step: int,
        batch,
        loss_dict: dict | None = None,
        grad_norm=None,
        lr: float | None = None,
        extra_metrics: dict | None = None,
    ) -> dict | None:
        """Record one step; -> the window means when ``(step + 1) % log_interval == 0``."""
        now, window = time.perf_counter(), self._window
        n = batch.shape[0] if isinstance(batch, torch.Tensor) else len(batch)
        if self._previous_step_time is not None:
            dt = now - self._previous_step_time
            window.add("train/step_time", dt)
            window.add("train/samples_per_second", n / dt if dt > 0 else 0.0)
        self._previous_step_time = now
        if self._gpu_available:
            window.gpu_gb.append(self._gpu_gb())
        for key, value in (loss_dict or {}).items():
            v = _scalar(value)
            window.add("train/loss" if key == "total" else f"train/{key}", v)
            if key == "total":
                self.min_loss = min(self.min_loss, v)
        if grad_norm is not None:
            window.add("train/grad_norm", _scalar(grad_norm))
        if lr is not None:
            window.add("train/learning_rate", float(lr))
        for key, value in (extra_metrics or {}).items():
            window.add(f"train/{key}", _scalar(value))
        if (step + 1) % self.log_interval == 0:
            return self._log_aggregated(step)
        return None

    def _log_aggregated(self, step: int) -> dict:
        out: dict = {"train/step": step, **self._window.means()}
        if self._gpu_available and self._window.gpu_gb:
            out["train/gpu_memory_allocated_mean_gb"] = float(np.mean(self._window.gpu_gb))
            out["train/gpu_memory_allocated_max_gb"] = self._gpu_gb(peak=True)
        out["train/min_loss"] = self.min_loss
        self._wandb_log(out, step=step)
        if self.print_logs:
            self._print_metrics(step, out)
        self._window = _Window()
        return out

    def _print_metrics(self, step: int, metrics: dict) -> None:
        shown = [_fmt(label, fmt, metrics[key]) for key, label, fmt in _PRINTED if key in metrics]
        print(" | ".join([f"Step {step + 1}", *shown]))

    def reset(self) -> None:
        """Forget everything: a new run starts now."""
        self._start_run()
        if self._gpu_available:
            torch.cuda.reset_peak_memory_stats()

    def finish(self) -> None:
        """Print the run's duration and lowest loss (and peak GPU memory); log the duration."""
        elapsed = time.perf_counter() - self._train_start_time
        if self.print_logs:
            minutes, seconds = divmod(elapsed, 60)
            report = [
                f"\nTraining finished in {int(minutes)}m {seconds:.1f}s. Min loss: {self.min_loss:.6f}"
            ]
            if self._gpu_available:
                report.append(f"Peak GPU memory: {self._gpu_gb(peak=True):.2f} GB")
            print("\n".join(report))
        self._wandb_log({"train/total_time_seconds": elapsed})
