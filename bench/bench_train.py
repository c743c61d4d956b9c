"""P4 and P5: training throughput.

P4: Trainer steps/s streaming from an ActivationStore (float16 shards, prefetch thread) vs the
    same rows as an in-RAM float32 tensor. Goal: streaming >= 90% of in-RAM.
P5: one TopK training step (loss incl. AuxK with dead latents, backward, Adam, post-step):
    ``TopKSAE.loss`` (sparse encoder backward, sparse decode, CSR weight gradients) vs the same
    objective computed densely (``sae.kernels.reference.reference_topk_loss``), n_latents = 16 x H.
    Goal: >= 1.5x, same loss within 1e-5. Both use Adam(fused=True) where supported.

Contenders alternate within every repetition; medians and spread (min-max) are reported with
the load average, so a loaded machine shows in the figures.

    python bench/bench_train.py [--only p4|p5] [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result  # noqa: E402
from sae import ActivationStore, ActivationStoreConfig, TopKSAE, Trainer, TrainingConfig  # noqa: E402
from sae.kernels.reference import reference_topk_loss  # noqa: E402


def _fit_seconds(model_state, data, cfg: TrainingConfig, dims) -> tuple[float, int]:
    model = TopKSAE(*dims[:2], top_k=dims[2], auxk=dims[3])
    model.load_state_dict(model_state)
    t = time.perf_counter()
    trainer = Trainer(model, cfg)
    trainer.fit(data)
    return time.perf_counter() - t, trainer.summary["global_step"]


def p4(args) -> dict:
    h, n_lat, k = args.p4_hidden, args.p4_hidden * 8, 32
    g = torch.Generator().manual_seed(0)
    x = torch.randn(args.p4_rows, h, generator=g).half()
    tmp = Path(tempfile.mkdtemp(prefix="bench_train_"))
    try:
        store = ActivationStore(tmp / "store", ActivationStoreConfig(shard_size=args.p4_shard))
        store.save(x)
        ram = x.float()
        torch.manual_seed(0)
        state = TopKSAE(h, n_lat, top_k=k, auxk=64).state_dict()
        cfg = TrainingConfig(
            lr=1e-4,
            n_epochs=1,
            batch_size=args.p4_batch,
            device="cpu",
            log_interval=10_000,
            show_progress=False,
            mix_shards=2,
        )
        dims = (h, n_lat, k, 64)
        times = {"store": [], "ram": []}
        steps = {}
        for _ in range(args.repeats):
            for name, data in (("store", ActivationStore(tmp / "store")), ("ram", ram)):
                sec, n = _fit_seconds(state, data, cfg, dims)
                times[name].append(sec)
                steps[name] = n
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    best = {k2: statistics.median(v) for k2, v in times.items()}
    sps = {k2: steps[k2] / best[k2] for k2 in best}
    return {
        "hidden_dim": h,
        "n_latents": n_lat,
        "top_k": k,
        "rows": args.p4_rows,
        "batch_size": args.p4_batch,
        "shard_size": args.p4_shard,
        "store_dtype": "float16",
        "steps": steps,
        "median_seconds": best,
        "spread_seconds": {k2: [min(v), max(v)] for k2, v in times.items()},
        "steps_per_s": sps,
        "P4_streaming_over_ram": sps["store"] / sps["ram"],
        "goal": ">= 0.90",
    }


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
    p.add_argument("--only", choices=["p4", "p5"], default=None)
    p.add_argument("--repeats", type=int, default=4)
    p.add_argument("--p4-hidden", type=int, default=256)
    p.add_argument("--p4-rows", type=int, default=60_000)
    p.add_argument("--p4-batch", type=int, default=1024)
    p.add_argument("--p4-shard", type=int, default=10_000)
    p.add_argument("--p5-hidden", type=int, default=256)
    p.add_argument("--p5-k", type=int, default=32)
    p.add_argument("--p5-batch", type=int, default=1024)
    p.add_argument("--p5-steps", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    figures = {"load_average_start": list(os.getloadavg())}
    if args.only in (None, "p4"):
        figures["P4"] = p4(args)
    if args.only in (None, "p5"):
        figures["P5"] = p5(args)
    figures["load_average_end"] = list(os.getloadavg())
    figures["note"] = "shared 2-core machine loaded by other jobs; rerun on a quiet machine"
    write_result("train" if args.only is None else f"train_{args.only}", figures)


if __name__ == "__main__":
    main()
