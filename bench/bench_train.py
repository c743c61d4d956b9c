"""P5: training throughput (P4, streaming vs in-RAM, lives in bench/bench_store.py).

P5: one TopK training step (forward, AuxK, backward, Adam, renorm) decoding through the k
    active latents (embedding_bag) vs a dense decode, n_latents >= 16 x H, k <= 64.
    Goal: >= 1.5x, same loss within 1e-5.

Runs A/B alternately and keeps the best time of each, so both see the same machine load.

    python bench/bench_train.py
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result  # noqa: E402
from sae import TopKSAE  # noqa: E402


def _step_fn(model, opt, x):
    def step():
        out = model.loss(x)
        opt.zero_grad(set_to_none=True)
        out["total"].backward()
        opt.step()
        model.post_step()
        return out

    return step


def p5(args) -> dict:
    h, k = args.p5_hidden, args.p5_k
    n_lat = 16 * h
    g = torch.Generator().manual_seed(1)
    x = torch.randn(args.p5_batch, h, generator=g)
    torch.manual_seed(0)
    sparse = TopKSAE(h, n_lat, top_k=k, auxk=2 * k, dead_tokens_threshold=args.p5_batch)
    dense = TopKSAE(
        h, n_lat, top_k=k, auxk=2 * k, dead_tokens_threshold=args.p5_batch, sparse_decode=False
    )
    dense.load_state_dict(sparse.state_dict())
    # same first losses: both paths compute the same function
    l_s = sparse.loss(x)
    l_d = dense.loss(x)
    max_diff = max(
        abs(float(l_s[key].detach()) - float(l_d[key].detach())) for key in ("total", "fvu", "aux")
    )
    opts = {m: torch.optim.Adam(m.parameters(), lr=1e-4) for m in (sparse, dense)}
    steps = {"sparse": _step_fn(sparse, opts[sparse], x), "dense": _step_fn(dense, opts[dense], x)}
    for fn in steps.values():  # warm-up (also makes some latents dead, so AuxK runs)
        fn()
        fn()
    best = {"sparse": float("inf"), "dense": float("inf")}
    for _ in range(args.repeats * 2):
        for name, fn in steps.items():
            t = time.perf_counter()
            for _ in range(args.p5_steps):
                out = fn()
            best[name] = min(best[name], (time.perf_counter() - t) / args.p5_steps)
    return {
        "hidden_dim": h,
        "n_latents": n_lat,
        "top_k": k,
        "auxk": 2 * k,
        "batch_size": args.p5_batch,
        "step_seconds": best,
        "P5_sparse_speedup": best["dense"] / best["sparse"],
        "loss_abs_diff_first_step": max_diff,
        "aux_active": float(out["aux"]) > 0,
        "goal": ">= 1.5x, loss diff <= 1e-5",
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeats", type=int, default=4)
    p.add_argument("--p5-hidden", type=int, default=256)
    p.add_argument("--p5-k", type=int, default=32)
    p.add_argument("--p5-batch", type=int, default=1024)
    p.add_argument("--p5-steps", type=int, default=5)
    args = p.parse_args()
    write_result("train", {"P5": p5(args)})


if __name__ == "__main__":
    main()
