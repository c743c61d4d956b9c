"""Dense vs sparse TopK decode: forward+backward time and peak GPU memory over latent counts.

``--mode kernel`` times the decode op alone (``TritonDecoderAutograd`` vs ``reference_decode``);
``--mode sae`` a full ``TopKSAE.loss`` forward+backward with ``decoder_impl`` dense / triton.
Needs a CUDA device; ``--json`` writes the table.

    python -m sae.benchmarks.bench_decoder --impl all --mode kernel
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from sae.kernels import HAS_TRITON, TritonDecoderAutograd, reference_decode

DEFAULT_NS = [21_504, 86_016, 344_064, 688_128, 1_048_576]
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
# the command line: flag -> argparse keywords
_FLAGS = {
    "--impl": {"choices": ["dense", "triton", "all"], "default": "all"},
    "--mode": {"choices": ["kernel", "sae"], "default": "kernel"},
    "--batch": {"type": int, "default": 4096},
    "--d": {"type": int, "default": 2688},
    "--k": {"type": int, "default": 32},
    "--ns": {"type": int, "nargs": "+", "default": DEFAULT_NS},
    "--dtype": {"choices": list(_DTYPES), "default": "bf16"},
    "--iters": {"type": int, "default": 20},
    "--warmup": {"type": int, "default": 5},
    "--json": {"type": str, "default": None},
}


def _sparse_inputs(a, n, k, d, dtype, device):
    idx = torch.rand(a, n, device=device).topk(k, dim=-1).indices
    vals = torch.rand(a, k, device=device, dtype=dtype)
    return idx, vals, torch.randn(d, n, device=device, dtype=dtype)


def _timed(fn, iters, warmup):
    for _ in range(warmup):
        fn()[1]()
    torch.cuda.synchronize()
    fwd = bwd = 0.0
    for _ in range(iters):
        t0 = time.perf_counter()
        _, back = fn()
        torch.cuda.synchronize()
        t1 = time.perf_counter()
        back()
        torch.cuda.synchronize()
        fwd += t1 - t0
        bwd += time.perf_counter() - t1
    return 1e3 * fwd / iters, 1e3 * bwd / iters


def bench_cell(impl, mode, a, n, k, d, dtype, device, iters, warmup):
    """One (impl, n) cell -> {fwd_ms, bwd_ms, peak_gb} or {status: OOM}."""
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    try:
        if mode == "kernel":
            idx, vals, w = _sparse_inputs(a, n, k, d, dtype, device)
            vals.requires_grad_(True)
            w.requires_grad_(True)
            op = TritonDecoderAutograd.apply if impl == "triton" else reference_decode

            def fn():
                out = op(idx, vals, w)
                return out, lambda: out.sum().backward()
        else:
            from sae.architectures import TopKSAE

            model = TopKSAE(d, n, k, decoder_impl=impl).to(device=device, dtype=dtype)
            x = torch.randn(a, d, device=device, dtype=dtype)

            def fn():
                out = model.loss(x)["total"]
                return out, out.backward

        f_ms, b_ms = _timed(fn, iters, warmup)
        peak = torch.cuda.max_memory_allocated() / 1e9
        return {"fwd_ms": round(f_ms, 3), "bwd_ms": round(b_ms, 3), "peak_gb": round(peak, 2)}
    except torch.cuda.OutOfMemoryError:
        torch.cuda.empty_cache()
        return {"status": "OOM"}


def main():
    p = argparse.ArgumentParser(description="Benchmark dense vs sparse TopK decoder")
    for flag, spec in _FLAGS.items():
        p.add_argument(flag, **spec)
    args = p.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("CUDA required for this benchmark.")
    dtype = _DTYPES[args.dtype]
    impls = ["dense", "triton"] if args.impl == "all" else [args.impl]
    gpu = torch.cuda.get_device_name(0)
    print(
        f"GPU: {gpu} | mode={args.mode} batch={args.batch} d={args.d} k={args.k} (triton={HAS_TRITON})"
    )
    rows = []
    for n in args.ns:
        row = {"n_latents": n, "expansion": round(n / args.d, 1)}
        for impl in impls:
            row[impl] = bench_cell(
                impl,
                args.mode,
                args.batch,
                n,
                args.k,
                args.d,
                dtype,
                "cuda",
                args.iters,
                args.warmup,
            )
        rows.append(row)
        print(json.dumps(row))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"gpu": gpu, "args": vars(args), "results": rows}, f, indent=2)


if __name__ == "__main__":
    main()
