"""``torch.optim.Adam`` that hands transposed-stored matrices to its kernels as dense rows.

A TopK SAE keeps ``decoder.weight`` (``[d, n]``) latent-major: its transpose is the contiguous
``[n, d]`` block the sparse decode reads. Adam's update is elementwise, but torch's fused CPU
kernel copies every non-contiguous parameter (and its gradient and moments) to a contiguous
temporary and back each step: three transposed copies of the largest matrix per step. This
subclass passes such a matrix, its gradient and its moments to the unchanged update as their
``.t()`` views (contiguous, same storage) when all of them share that layout. The arithmetic
per element is the same kernel on the same values, so results are bit-identical to
``torch.optim.Adam`` with the same options; ``state_dict`` is unchanged too.
"""

from __future__ import annotations

import inspect

import torch

# The private hook this class overrides takes (self, group, params, grads, exp_avgs, exp_avg_sqs,
# max_exp_avg_sqs, steps) in torch 2.x; where a torch version changes that, callers use plain
# `torch.optim.Adam` (`layout_adam_supported()` is False).
_INIT_GROUP_ARITY = 8


def layout_adam_supported() -> bool:
    """True when this torch's ``Adam._init_group`` has the signature LayoutAdam extends."""
    hook = getattr(torch.optim.Adam, "_init_group", None)
    if hook is None:
        return False
    try:
        params = inspect.signature(hook).parameters.values()
    except (TypeError, ValueError):
        return False
    return len(params) == _INIT_GROUP_ARITY and all(
        p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params
    )


def _row_major(t: torch.Tensor, strides: tuple[int, ...]) -> torch.Tensor:
    return t.t() if t.stride() == strides else t


class LayoutAdam(torch.optim.Adam):
    """``torch.optim.Adam`` (same arguments, state and results) without per-step copies of
    parameters stored transposed (see the module docstring)."""

    def _init_group(self, group, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps):
        has_complex = super()._init_group(
            group, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps
        )
        amsgrad = bool(group.get("amsgrad"))
        for i, p in enumerate(params):
            if p.dim() != 2 or p.is_contiguous() or not p.t().is_contiguous():
                continue
            strides = p.stride()
            peers = [grads[i], exp_avgs[i], exp_avg_sqs[i]]
            if amsgrad:
                peers.append(max_exp_avg_sqs[i])
            if any(t.stride() != strides or t.shape != p.shape for t in peers):
                continue  # mixed layouts: leave it to torch (it copies as before)
            params[i] = _row_major(p, strides)
            grads[i] = _row_major(grads[i], strides)
            exp_avgs[i] = _row_major(exp_avgs[i], strides)
            exp_avg_sqs[i] = _row_major(exp_avg_sqs[i], strides)
            if amsgrad:
                max_exp_avg_sqs[i] = _row_major(max_exp_avg_sqs[i], strides)
        return has_complex
