"""Learning-rate schedule (linear warmup, then constant/cosine/linear decay) and run horizon.

For optimizer step ``s`` (0-based), warmup ``W`` steps and a decay phase of ``D`` steps:
``lr(s) = lr * s / W`` while ``s < W``; then with ``p = min((s - W) / D, 1)``
cosine ``lr_min + (lr - lr_min) * (1 + cos(pi p)) / 2``, linear ``lr + (lr_min - lr) * p``,
constant ``lr``. ``D`` defaults to the run's optimizer steps minus the warmup; ``D <= 0`` keeps
``lr``.
"""

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
    warmup_steps: int = 0,
) -> tuple[int, int, int]:
    """-> (steps_per_epoch, total optimizer steps, decay-phase length ``D``).

    ``max_steps`` is the exact step budget, as in the shared library (the data is re-read for as
    many epochs as it takes, past ``n_epochs``); ``lr_decay_steps`` sets ``D``; both are honoured
    but warned about when they cut a cosine short (LR at lr_min early, or never decaying fully).
    """
    steps_per_epoch = batches_per_epoch // accumulation
    if steps_per_epoch < 1:
        raise ValueError(
            f"{batches_per_epoch} batches per epoch < grad_accumulation_steps={accumulation}; "
            "lower grad_accumulation_steps or batch_size"
        )
    natural = steps_per_epoch * n_epochs
    total = natural if max_steps is None else int(max_steps)  # a budget: epochs repeat
    if schedule == "constant":
        decay = 0
    elif lr_decay_steps is not None:
        decay = int(lr_decay_steps)
    else:
        decay = max(0, total - warmup_steps)
    if schedule == "cosine":
        if max_steps is not None and int(max_steps) < natural:
            warnings.warn(
                f"max_steps={max_steps} truncates the run ({natural} optimizer steps from the data) "
                "and shrinks the cosine horizon; drop --max-steps to train on all data",
                stacklevel=2,
            )
        if lr_decay_steps is not None and int(lr_decay_steps) != max(0, total - warmup_steps):
            warnings.warn(
                f"lr_decay_steps={lr_decay_steps} differs from the run's {total} optimizer steps "
                f"after {warmup_steps} warmup steps: the cosine will not span the run (LR "
                "collapses to lr_min early or never decays fully); leave lr_decay_steps unset",
                stacklevel=2,
            )
    return steps_per_epoch, total, decay


def lr_at(step: int, lr: float, lr_min: float, warmup: int, decay: int, schedule: str) -> float:
    """LR for optimizer step ``step`` (see the module docstring; ``decay`` is ``D``)."""
    if schedule not in SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {SCHEDULES}, got {schedule!r}")
    if warmup > 0 and step < warmup:
        return lr * step / warmup
    if schedule == "constant" or decay <= 0:
        return lr
    p = min(1.0, max(0.0, (step - warmup) / decay))
    if schedule == "cosine":
        return lr_min + (lr - lr_min) * 0.5 * (1.0 + math.cos(math.pi * p))
    return lr + (lr_min - lr) * p


def unsized_horizon(
    max_steps: int | None, lr_decay_steps: int | None, schedule: str, warmup_steps: int = 0
) -> tuple[None, int | float, int]:
    """`compute_horizon` for a stream of unknown length: -> (None, total steps, decay length).
    ``max_steps`` is the budget (the stream is re-run until it is reached); without it the run
    ends when the stream does and a decaying schedule has no horizon (the LR stays at its peak
    unless ``lr_decay_steps`` is given; warned)."""
    total = math.inf if max_steps is None else int(max_steps)
    if schedule == "constant":
        return None, total, 0
    if lr_decay_steps is not None:
        return None, total, int(lr_decay_steps)
    if max_steps is not None:
        return None, total, max(0, int(max_steps) - warmup_steps)
    warnings.warn(
        f"lr_schedule={schedule!r} on a stream of unknown length without max_steps or "
        "lr_decay_steps: the LR cannot decay; set one of them or lr_schedule='constant'",
        stacklevel=2,
    )
    return None, total, 0
