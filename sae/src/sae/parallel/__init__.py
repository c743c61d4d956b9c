"""Tensor-parallel pieces for latent-sharded SAEs: collectives, global top-k, checkpoints, loop.

The names below load from their submodule on first use (:mod:`sae._lazy`): the collectives
(``comms``, ``topk``) that ``sae.architectures.topk_tp`` builds on import without the
checkpoint and training modules, which build on ``sae.architectures`` in turn.
"""

from sae._lazy import lazy_exports

# submodule -> the names the package re-exports from it
_EXPORTS = {
    ".checkpoint": ("load_and_merge", "save_sharded"),
    ".comms": ("all_gather_cat", "all_reduce_sum", "autograd_all_reduce_sum"),
    ".topk": ("GlobalTopK", "dense_topk_reference", "global_topk"),
    ".training": ("train_tp_loop",),
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
