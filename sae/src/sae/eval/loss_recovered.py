"""Loss recovered: how much of the model's own loss survives the SAE at one layer.

``loss_recovered = 1 - (CE_sae - CE_orig) / (CE_zero - CE_orig)``: the token cross-entropy with
the layer's output replaced by the SAE reconstruction (CE_sae), left alone (CE_orig) or zeroed
(CE_zero). 1 = the reconstruction loses nothing, 0 = no better than zero ablation.

``evaluate_loss_recovered`` is model agnostic: the caller supplies ``get_hiddens(batch)`` (the
layer's hidden states) and ``compute_ce(batch, override) -> (summed CE, n_tokens)`` (the model
with the layer's output replaced by ``override``, or clean when None). ``loss_recovered`` (an
extension) does the substitution itself with a forward hook on any ``nn.Module`` layer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from sae.eval._report import summary_repr
from torch import nn

_EPS = 1e-8


@dataclass
class LossRecoveredResult:
    """Loss recovered and the three cross-entropies it is computed from (per token)."""

    loss_recovered: float
    ce_original: float
    ce_sae: float
    ce_zero: float
    n_tokens: int

    __repr__ = summary_repr(
        "LossRecoveredResult(loss_recovered={loss_recovered:.1%}, ce_orig={ce_original:.3f}, "
        "ce_sae={ce_sae:.3f}, ce_zero={ce_zero:.3f}, n_tokens={n_tokens})"
    )


def compute_loss_recovered(ce_original: float, ce_sae: float, ce_zero: float) -> float:
    """The score from the three cross-entropies (see the module docstring); not clamped."""
    return 1.0 - (ce_sae - ce_original) / (ce_zero - ce_original + _EPS)


def _reconstruct(sae: nn.Module, hidden: torch.Tensor) -> torch.Tensor:
    flat = hidden.reshape(-1, hidden.shape[-1]).float()
    return sae(flat)[0].to(hidden.dtype).reshape(hidden.shape)


@torch.no_grad()
def evaluate_loss_recovered(
    sae: nn.Module,
    batches: Iterable,
    get_hiddens: Callable[[Any], torch.Tensor],
    compute_ce: Callable[[Any, torch.Tensor | None], tuple[float, int]],
    device: str = "cuda",
    show_progress: bool = True,
    get_recon_mask: Callable[[Any], torch.Tensor] | None = None,
) -> LossRecoveredResult:
    """Sum the three cross-entropies over ``batches``; -> per-token means and the score in [0, 1].

    ``get_recon_mask(batch)`` -> bool [B, L]: only those positions are reconstructed or zeroed
    (e.g. residues, not CLS/EOS/padding); the others keep their hidden states.
    """
    sae = sae.eval().to(device)
    if show_progress:
        from tqdm.auto import tqdm

        batches = tqdm(batches, desc="Evaluating loss recovered")
    totals = {"orig": 0.0, "sae": 0.0, "zero": 0.0}
    n_tokens = 0
    for batch in batches:
        ce, n = compute_ce(batch, None)
        totals["orig"] += float(ce)
        hidden = get_hiddens(batch)
        recon = _reconstruct(sae, hidden)
        if get_recon_mask is None:
            zero = torch.zeros_like(hidden)
        else:
            mask = get_recon_mask(batch).unsqueeze(-1).expand_as(hidden)
            zero = hidden.masked_fill(mask, 0.0)
            recon = torch.where(mask, recon, hidden)
        totals["zero"] += float(compute_ce(batch, zero)[0])
        totals["sae"] += float(compute_ce(batch, recon)[0])
        n_tokens += int(n)
    per_token = {k: v / max(1, n_tokens) for k, v in totals.items()}
    score = compute_loss_recovered(per_token["orig"], per_token["sae"], per_token["zero"])
    return LossRecoveredResult(
        loss_recovered=min(1.0, max(0.0, score)),
        ce_original=per_token["orig"],
        ce_sae=per_token["sae"],
        ce_zero=per_token["zero"],
        n_tokens=n_tokens,
    )


@contextlib.contextmanager
def replace_output(module: nn.Module, fn: Callable[[torch.Tensor], torch.Tensor]):
    """Extension: a forward hook replacing ``module``'s (first) output by ``fn(output)``."""

    def hook(_mod, _inp, out):
        if isinstance(out, tuple):
            return (fn(out[0]), *out[1:])
        if isinstance(out, torch.Tensor):
            return fn(out)
        if hasattr(out, "keys"):  # HF ModelOutput / dict: the first field
            key = next(iter(out.keys()))
            out[key] = fn(out[key])
            return out
        raise TypeError(f"replace_output: cannot substitute into a {type(out).__name__} output")

    handle = module.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


@torch.no_grad()
def loss_recovered(
    sae: nn.Module,
    layer_module: nn.Module,
    run_loss: Callable[[object], float],
    batches: Iterable,
    device: str | torch.device = "cpu",
) -> dict:
    """Extension: loss recovered with ``layer_module``'s output substituted by a hook.

    ``run_loss(batch) -> float`` is the model's mean cross-entropy on a batch; each batch counts
    once. -> ``{ce_orig, ce_sae, ce_zero, loss_recovered}`` (score from
    ``compute_loss_recovered``, not clamped).
    """
    sae = sae.to(device).eval()
    ce = {"orig": 0.0, "sae": 0.0, "zero": 0.0}
    n = 0
    for batch in batches:
        ce["orig"] += float(run_loss(batch))
        with replace_output(layer_module, lambda h: _reconstruct(sae, h)):
            ce["sae"] += float(run_loss(batch))
        with replace_output(layer_module, torch.zeros_like):
            ce["zero"] += float(run_loss(batch))
        n += 1
    if n == 0:
        raise ValueError("loss_recovered: no batches")
    orig, sae_ce, zero = (ce[k] / n for k in ("orig", "sae", "zero"))
    return {
        "ce_orig": orig,
        "ce_sae": sae_ce,
        "ce_zero": zero,
        "loss_recovered": compute_loss_recovered(orig, sae_ce, zero),
    }
