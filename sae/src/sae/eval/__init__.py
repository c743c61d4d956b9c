"""SAE evaluation: reconstruction, sparsity, dead latents, loss recovered; probing (extension).

Each metric is defined once, in its submodule's docstring; training logs and recipes import them.
"""

from sae.eval.dead_latents import (
    DeadLatentStats,
    DeadLatentTracker,
    counter_dead_mask,
    counter_dead_pct,
)
from sae.eval.evaluate import EvalResults, evaluate_sae
from sae.eval.guards import GuardWarning, loss_recovered_unclamped, untrained_model_warnings
from sae.eval.loss_recovered import (
    LossRecoveredResult,
    compute_loss_recovered,
    evaluate_loss_recovered,
    loss_recovered,
    replace_output,
)
from sae.eval.probing import (
    ActivationBuffer,
    LabelMetrics,
    annotate_features,
    auroc,
    auroc_all,
    auroc_vec,
    best_single_train_test,
    decode_eval,
    domain_f1,
    fit_logreg,
    fit_softmax,
    label_metrics,
    latent_groups,
    macro_auroc,
    probe_features,
    split_indices,
    standardize,
)
from sae.eval.reconstruction import (
    ReconstructionMetrics,
    compute_reconstruction_metrics,
    evaluate_reconstruction,
)
from sae.eval.sparsity import SparsityMetrics, evaluate_sparsity

__all__ = [
    "ActivationBuffer",
    "GuardWarning",
    "LabelMetrics",
    "annotate_features",
    "auroc_all",
    "auroc_vec",
    "best_single_train_test",
    "decode_eval",
    "domain_f1",
    "fit_logreg",
    "fit_softmax",
    "label_metrics",
    "latent_groups",
    "loss_recovered_unclamped",
    "macro_auroc",
    "split_indices",
    "standardize",
    "untrained_model_warnings",
    "DeadLatentStats",
    "DeadLatentTracker",
    "EvalResults",
    "LossRecoveredResult",
    "ReconstructionMetrics",
    "SparsityMetrics",
    "auroc",
    "compute_loss_recovered",
    "compute_reconstruction_metrics",
    "counter_dead_mask",
    "counter_dead_pct",
    "evaluate_loss_recovered",
    "evaluate_reconstruction",
    "evaluate_sae",
    "evaluate_sparsity",
    "loss_recovered",
    "probe_features",
    "replace_output",
]
