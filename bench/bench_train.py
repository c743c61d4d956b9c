"""P4 and P5: training throughput.

P4: Trainer steps/s streaming from an ActivationStore (float16 shards, prefetch thread) vs the
    same rows as an in-RAM float32 tensor. Goal: streaming >= 90% of in-RAM.
P5: one TopK training step (forward, AuxK, backward, Adam, renorm) decoding through the k
    active latents (embedding_bag) vs a dense decode, n_latents >= 16 x H, k <= 64.
    Goal: >= 1.5x, same loss within 1e-5.

Runs A/B alternately and keeps the best time of each, so both see the same machine load.

    python bench/bench_train.py [--only p4|p5]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result  # noqa: E402
from sae import ActivationStore, ActivationStoreConfig, TopKSAE, Trainer, TrainingConfig  # noqa: E402


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
        best = {"store": float("inf"), "ram": float("inf")}
        steps = {}
        for _ in range(args.repeats):
            for name, data in (("store", ActivationStore(tmp / "store")), ("ram", ram)):
                sec, n = _fit_seconds(state, data, cfg, dims)
                best[name] = min(best[name], sec)
                steps[name] = n
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
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
        "best_seconds": best,
        "steps_per_s": sps,
        "P4_streaming_over_ram": sps["store"] / sps["ram"],
        "goal": ">= 0.90",
    }


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
    args = p.parse_args()
    figures = {}
    if args.only in (None, "p4"):
        figures["P4"] = p4(args)
    if args.only in (None, "p5"):
        figures["P5"] = p5(args)
    write_result("train" if args.only is None else f"train_{args.only}", figures)


if __name__ == "__main__":
    main()
