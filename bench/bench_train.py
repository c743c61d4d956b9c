"""P5: training-step throughput (P4, streaming from a store vs in-RAM, lives in bench_store.py).

P5: one TopK training step (loss incl. AuxK with dead latents, backward, Adam, post-step):
    ``TopKSAE.loss`` (sparse encoder backward, sparse decode, CSR weight gradients) vs the same
    objective computed densely (``sae.kernels.reference.reference_topk_loss``), n_latents = 16 x H.
    Goal: >= 1.5x, same loss within 1e-5. Both use Adam(fused=True) where supported.

Contenders alternate within every repetition; medians and spread (min-max) are reported with
the load average, so a loaded machine shows in the figures.

    python bench/bench_train.py [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result  # noqa: E402
from sae import TopKSAE  # noqa: E402
from sae.kernels.reference import reference_topk_loss  # noqa: E402


def adam(params, lr: float):
    """Adam as the Trainer builds it: fused where this torch/device supports it."""
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(params, lr=lr, foreach=True)


def _sparse_step(model, opt, x):
    def step():
        out = model.loss(x)
        opt.zero_grad(set_to_none=True)
        out["total"].backward()
        opt.step()
        model.post_step()
        return out["total"], out.get("aux")

    return step


def _dense_step(model, opt, x):
    def step():
        total, aux, stats = reference_topk_loss(model, x, model.stats_last_nonzero)
        model.stats_last_nonzero.copy_(stats)
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        model.post_step()
        return total, aux

    return step


def p5(args) -> dict:
    h, k = args.p5_hidden, args.p5_k
    n_lat = 16 * h
    g = torch.Generator().manual_seed(1)
    x = torch.randn(args.p5_batch, h, generator=g)
    torch.manual_seed(0)
    kw = dict(top_k=k, normalize_input=False, auxk=2 * k, dead_tokens_threshold=args.p5_batch)
    sparse, dense = TopKSAE(h, n_lat, **kw), TopKSAE(h, n_lat, **kw)
    dense.load_state_dict(sparse.state_dict())
    # same first losses: both paths compute the same function
    l_s = sparse.loss(x)
    l_d, a_d, st = reference_topk_loss(dense, x, dense.stats_last_nonzero)
    dense.stats_last_nonzero.copy_(st)
    pairs = ((l_s["total"], l_d), (l_s["aux"], a_d))
    max_diff = max(abs(float(a.detach()) - float(b.detach())) for a, b in pairs)
    steps = {
        "sparse": _sparse_step(sparse, adam(sparse.parameters(), 1e-4), x),
        "dense": _dense_step(dense, adam(dense.parameters(), 1e-4), x),
    }
    for fn in steps.values():  # warm-up (also makes some latents dead, so AuxK runs)
        fn()
        fn()
    times = {"sparse": [], "dense": []}
    aux_seen = False
    for _ in range(args.repeats * 2):
        for name, fn in steps.items():
            t = time.perf_counter()
            for _ in range(args.p5_steps):
                _, aux = fn()
            times[name].append((time.perf_counter() - t) / args.p5_steps)
            aux_seen = aux_seen or (aux is not None and float(aux.detach()) > 0)
    med = {name: statistics.median(v) for name, v in times.items()}
    return {
        "hidden_dim": h,
        "n_latents": n_lat,
        "top_k": k,
        "auxk": 2 * k,
        "batch_size": args.p5_batch,
        "threads": torch.get_num_threads(),
        "median_step_seconds": med,
        "spread_step_seconds": {name: [min(v), max(v)] for name, v in times.items()},
        "P5_sparse_speedup": med["dense"] / med["sparse"],
        "loss_abs_diff_first_step": max_diff,
        "aux_active": aux_seen,
        "goal": ">= 1.5x, loss diff <= 1e-5",
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeats", type=int, default=4)
    p.add_argument("--p5-hidden", type=int, default=256)
    p.add_argument("--p5-k", type=int, default=32)
    p.add_argument("--p5-batch", type=int, default=1024)
    p.add_argument("--p5-steps", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    figures = {"load_average_start": list(os.getloadavg())}
    figures["P5"] = p5(args)
    figures["load_average_end"] = list(os.getloadavg())
    figures["note"] = "shared 2-core machine loaded by other jobs; rerun on a quiet machine"
    write_result("train", figures)


if __name__ == "__main__":
    main()
