"""Tensor-parallel pieces for latent-sharded SAEs: collectives, global top-k, checkpoints, loop."""

from .checkpoint import load_and_merge, save_sharded
from .comms import all_gather_cat, all_reduce_sum, autograd_all_reduce_sum
from .topk import GlobalTopK, dense_topk_reference, global_topk
from .training import train_tp_loop

__all__ = [
    "GlobalTopK",
    "all_gather_cat",
    "all_reduce_sum",
    "autograd_all_reduce_sum",
    "dense_topk_reference",
    "global_topk",
    "load_and_merge",
    "save_sharded",
    "train_tp_loop",
]
