"""Benchmarks shipped with the runtime (``python -m sae.benchmarks.bench_decoder``)."""
