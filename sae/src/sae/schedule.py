"""Learning-rate schedules (warmup then constant/cosine/linear) and horizon computation."""

from __future__ import annotations

import math
import warnings

SCHEDULES = ("constant", "cosine", "linear")


def compute_horizon(
    batches_per_epoch: int,
    n_epochs: int,
    accumulation: int,
    max_steps: int | None,
    lr_decay_steps: int | None,
    schedule: str,
) -> tuple[int, int, int]:
    """-> (steps_per_epoch, total optimizer steps, decay horizon).

    The natural horizon is the true number of optimizer steps, epochs x batches / accumulation.
    ``max_steps`` caps training and ``lr_decay_steps`` overrides the decay horizon; both are
    honoured but warned about when they cut a cosine short (the LR would hit lr_min early or the
    schedule would not finish).
    """
    steps_per_epoch = batches_per_epoch // accumulation
    if steps_per_epoch < 1:
        raise ValueError(
            f"{batches_per_epoch} batches per epoch < grad_accumulation_steps={accumulation}; "
            "lower grad_accumulation_steps or batch_size"
        )
    natural = steps_per_epoch * n_epochs
    total = natural if max_steps is None else min(natural, int(max_steps))
    decay = total if lr_decay_steps is None else int(lr_decay_steps)
    if schedule == "cosine":
        if max_steps is not None and int(max_steps) < natural:
            warnings.warn(
                f"max_steps={max_steps} truncates the run ({natural} optimizer steps from the data) "
                "and shrinks the cosine horizon; drop --max-steps to train on all data",
                stacklevel=2,
            )
        if lr_decay_steps is not None and int(lr_decay_steps) != total:
            warnings.warn(
                f"lr_decay_steps={lr_decay_steps} differs from the run's {total} optimizer steps: "
                "the cosine will not span the run (LR collapses to lr_min early or never decays "
                "fully); leave lr_decay_steps unset to use the data-derived horizon",
                stacklevel=2,
            )
    return steps_per_epoch, total, decay


def lr_at(step: int, lr: float, lr_min: float, warmup: int, decay: int, schedule: str) -> float:
    """LR for optimizer step ``step`` (0-based): linear warmup, then the schedule to ``decay``."""
    if schedule not in SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {SCHEDULES}, got {schedule!r}")
    if warmup > 0 and step < warmup:
        return lr * (step + 1) / warmup
    if schedule == "constant":
        return lr
    p = min(1.0, max(0.0, (step - warmup) / max(1, decay - warmup)))
    if schedule == "cosine":
        return lr_min + (lr - lr_min) * 0.5 * (1.0 + math.cos(math.pi * p))
    return lr - (lr - lr_min) * p
