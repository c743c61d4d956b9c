"""Untrained-model guards: signs that an SAE evaluation measured plumbing, not a trained model.

A randomly initialised model makes every SAE metric look excellent: its layer activations are
nearly low-rank noise that a TopK SAE reconstructs almost perfectly (variance explained near 1),
and its predictions are close to uniform, so splicing in the reconstruction or even zeros changes
little (loss recovered near 1). These checks flag such runs:

* ``VARIANCE_EXPLAINED_HIGH``: variance explained >= ``max_variance_explained`` (0.95); real models
  rarely allow that at useful sparsity.
* ``CLEAN_CE_UNIFORM``: the clean model's cross-entropy is within ``uniform_tolerance`` (10%) of, or
  above, ``ln(vocab_size)``, the cross-entropy of guessing uniformly: the model predicts nothing.
* ``ZERO_ABLATION_BETTER``: the model with the layer zeroed has a lower cross-entropy than the clean
  model, impossible for a model that uses that layer.

:func:`untrained_model_warnings` returns a list of :class:`GuardWarning` (empty when nothing is
suspicious); each carries a machine code, the measured value, the threshold, and a sentence for
the report. :func:`loss_recovered_unclamped` gives loss recovered without clipping to [0, 1],
to be reported beside its three cross-entropies.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

MAX_VARIANCE_EXPLAINED = 0.95
UNIFORM_TOLERANCE = 0.10


@dataclass(frozen=True)
class GuardWarning:
    """One flagged sign: ``code``, the ``value`` measured, the ``threshold`` it crossed, ``message``."""

    code: str
    value: float
    threshold: float
    message: str

    def to_dict(self) -> dict:
        """Plain dict (JSON-ready)."""
        return asdict(self)


def loss_recovered_unclamped(ce_clean: float, ce_sae: float, ce_zero: float) -> float:
    """``(ce_zero - ce_sae) / (ce_zero - ce_clean)``, not clipped; NaN when ce_zero == ce_clean."""
    denom = ce_zero - ce_clean
    return (ce_zero - ce_sae) / denom if denom != 0 else float("nan")


def _finite(x) -> bool:
    return x is not None and math.isfinite(float(x))


def untrained_model_warnings(
    variance_explained: float | None = None,
    ce_clean: float | None = None,
    ce_zero: float | None = None,
    vocab_size: int | None = None,
    max_variance_explained: float = MAX_VARIANCE_EXPLAINED,
    uniform_tolerance: float = UNIFORM_TOLERANCE,
) -> list[GuardWarning]:
    """Warnings for the measurements given (``None`` skips a check). ``ce_*`` are mean per-token
    cross-entropies in nats; ``vocab_size`` is the number of token ids the model predicts over."""
    out: list[GuardWarning] = []
    if _finite(variance_explained) and variance_explained >= max_variance_explained:
        out.append(
            GuardWarning(
                "VARIANCE_EXPLAINED_HIGH",
                float(variance_explained),
                max_variance_explained,
                f"variance explained {variance_explained:.3f} >= {max_variance_explained:.2f}: suspiciously "
                "easy to reconstruct; check the model is the trained checkpoint, not a random initialisation",
            )
        )
    if _finite(ce_clean) and vocab_size is not None and vocab_size > 1:
        uniform = math.log(vocab_size)
        bound = (1.0 - uniform_tolerance) * uniform
        if ce_clean >= bound:
            out.append(
                GuardWarning(
                    "CLEAN_CE_UNIFORM",
                    float(ce_clean),
                    bound,
                    f"clean cross-entropy {ce_clean:.3f} is at uniform guessing (ln {vocab_size} = {uniform:.3f}): "
                    "the model predicts nothing, so loss recovered is unreliable; is it untrained?",
                )
            )
    if _finite(ce_clean) and _finite(ce_zero) and ce_zero < ce_clean:
        out.append(
            GuardWarning(
                "ZERO_ABLATION_BETTER",
                float(ce_zero),
                float(ce_clean),
                f"zeroing the layer lowers cross-entropy ({ce_zero:.3f} < clean {ce_clean:.3f}): the model "
                "does not use this layer as a trained model would; loss recovered is unreliable",
            )
        )
    return out
