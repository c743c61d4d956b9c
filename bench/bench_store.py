"""P1/P2/P4: activation-store reads and writes vs the reference layout, and streaming training.

P1 read: every row of a store into memory: ours (``load_all``, ``fsb`` layout, float32 and
    float16 shards) vs the reference library reading its own ``dim_0..dim_{H-1}`` store
    (``_load_shard`` of every shard, in its own virtualenv ``.venv-ref``, timed inside that
    process; without it, our reader of that layout stands in). Goal >= 5x.
    Also the page-cache rate: ``cat`` of the same ``fsb`` files to /dev/null, in the same reps;
    goal: our float32 read >= 50% of it (bytes per second).
P2 write: ``append`` in 50 chunks + ``finalize``: ours (default: uncompressed) vs the reference
    library's own ``ActivationStore`` (snappy, its default), likewise. Goal >= 5x.
P4: Trainer steps/s streaming from a float16 store (read-ahead thread) vs the same rows as an
    in-RAM float32 tensor. Goal >= 0.90.

Contenders run interleaved within each repetition (``_common.interleave``); figures are medians
with their spread and the load average (the machine may be shared: read them together).

    python bench/bench_store.py [--rows 50000] [--hidden 1280] [--reps 5] [--only p1p2|p4]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import interleave, load_average, summary, write_result  # noqa: E402
from sae.activation_store import ActivationStore, ActivationStoreConfig  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
REF_PYTHON = REPO / ".venv-ref" / "bin" / "python"
_REF = """
import sys, time, shutil, numpy as np
from sae.activation_store import ActivationStore, ActivationStoreConfig
mode, data, path, shard = sys.argv[1:5]
if mode == "write":
    chunks = np.array_split(np.load(data), 50)
    shutil.rmtree(path, ignore_errors=True)
    t = time.perf_counter()
    store = ActivationStore(path, ActivationStoreConfig(shard_size=int(shard)))
    for c in chunks:
        store.append(c)
    store.finalize()
else:
    t = time.perf_counter()
    store = ActivationStore(path)
    rows = np.concatenate([store._load_shard(i) for i in range(store.n_shards)])
print(time.perf_counter() - t)
"""


def _reference(mode: str, data: Path, path: Path, shard: int):
    """A contender run by the reference library in its own venv; -> seconds it measured."""

    def run() -> float:
        out = subprocess.run(
            [str(REF_PYTHON), "-c", _REF, mode, str(data), str(path), str(shard)],
            capture_output=True,
            text=True,
            check=True,
        )
        return float(out.stdout.strip().splitlines()[-1])

    return run


def _files(d: Path) -> list[str]:
    return sorted(str(p) for p in d.glob("shard_*.parquet"))


def _mib(d: Path) -> float:
    return sum(Path(f).stat().st_size for f in _files(d)) / 2**20


def p1_p2(args, tmp: Path) -> dict:
    x = np.random.default_rng(0).standard_normal((args.rows, args.hidden), dtype=np.float32)
    chunks = np.array_split(x, 50)
    np.save(tmp / "x.npy", x)
    use_ref = REF_PYTHON.is_file()
    ref = "reference_library" if use_ref else "reference_layout_our_reader"
    configs = {
        "ours_fp32": ActivationStoreConfig(args.shard_size),
        "ours_fp16": ActivationStoreConfig(args.shard_size, dtype="float16"),
    }
    if not use_ref:  # stand-in: the reference layout as the reference writes it (snappy)
        configs[ref] = ActivationStoreConfig(args.shard_size, "snappy", None, "reference")

    def writer(name):
        def run():
            d = tmp / name
            shutil.rmtree(d, ignore_errors=True)
            store = ActivationStore(d, configs[name])
            for c in chunks:
                store.append(c)
            store.finalize()

        return run

    wc = {n: writer(n) for n in configs}
    if use_ref:
        wc[ref] = _reference("write", tmp / "x.npy", tmp / ref, args.shard_size)
    writes = interleave(wc, args.write_reps)
    stores = {n: ActivationStore(tmp / n) for n in wc}
    assert np.array_equal(stores["ours_fp32"].load_all().numpy(), x)
    assert np.array_equal(stores[ref].load_all().numpy(), x)  # ours reads theirs, too
    assert np.array_equal(stores["ours_fp16"].load_all().numpy(), x.astype(np.float16))
    cat_files = _files(tmp / "ours_fp32")

    def cat():
        subprocess.run(["cat", *cat_files], stdout=subprocess.DEVNULL, check=True)

    rc = {"page_cache_cat_ours_fp32_files": cat}
    rc.update({n: (lambda s=s: s.load_all()) for n, s in stores.items()})
    if use_ref:
        rc[ref] = _reference("read", tmp / "x.npy", tmp / ref, args.shard_size)
    cat()  # the files are in the page cache for every contender
    load_before = load_average()
    reads = interleave(rc, args.reps)
    r, w = {k: summary(v) for k, v in reads.items()}, {k: summary(v) for k, v in writes.items()}
    mib32 = _mib(tmp / "ours_fp32")
    med = {k: v["median_s"] for k, v in r.items()}
    cat_s = reads["page_cache_cat_ours_fp32_files"]
    ratio32 = [c / o for c, o in zip(cat_s, reads["ours_fp32"], strict=True)]
    return {
        "rows": args.rows,
        "hidden_dim": args.hidden,
        "shard_size": args.shard_size,
        "reference_contender": ref,
        "load_average_before_reads": load_before,
        "read": r,
        "write": w,
        "disk_MiB": {n: _mib(tmp / n) for n in wc},
        "read_GiB_per_s_median": {
            "page_cache_cat": mib32 / 1024 / med["page_cache_cat_ours_fp32_files"],
            "ours_fp32": mib32 / 1024 / med["ours_fp32"],
        },
        "ours_fp32_read_over_cat_rate": {
            "median": float(np.median(ratio32)),
            "per_rep": ratio32,
            "goal": ">= 0.50",
        },
        "P1_read_speedup_fp32": med[ref] / med["ours_fp32"],
        "P1_read_speedup_fp16": med[ref] / med["ours_fp16"],
        "P2_write_speedup_fp32": w[ref]["median_s"] / w["ours_fp32"]["median_s"],
        "P2_write_speedup_fp16": w[ref]["median_s"] / w["ours_fp16"]["median_s"],
        "goal": "P1 and P2 >= 5x (medians of interleaved reps)",
    }


def p4(args, tmp: Path) -> dict:
    from sae import TopKSAE, Trainer, TrainingConfig

    h, n_lat, k = args.p4_hidden, args.p4_hidden * 8, 32
    x = torch.randn(args.p4_rows, h, generator=torch.Generator().manual_seed(0)).half()
    ActivationStore(tmp / "p4", ActivationStoreConfig(shard_size=args.p4_shard)).save(x)
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
    steps = {}

    def fit(name, data_fn):
        def run():
            model = TopKSAE(h, n_lat, top_k=k, auxk=64)
            model.load_state_dict(state)
            trainer = Trainer(model, cfg)
            trainer.fit(data_fn())
            steps[name] = trainer.global_step

        return run

    times = interleave(
        {
            "store_streaming": fit("store_streaming", lambda: ActivationStore(tmp / "p4")),
            "in_ram": fit("in_ram", lambda: ram),
        },
        args.reps,
    )
    sps = {n: [steps[n] / t for t in ts] for n, ts in times.items()}
    per_rep = [s / r for s, r in zip(sps["store_streaming"], sps["in_ram"], strict=True)]
    return {
        "hidden_dim": h,
        "n_latents": n_lat,
        "top_k": k,
        "rows": args.p4_rows,
        "batch_size": args.p4_batch,
        "shard_size": args.p4_shard,
        "store_dtype": "float16",
        "steps": steps,
        "fit": {n: summary(ts) for n, ts in times.items()},
        "P4_streaming_over_ram": float(np.median(per_rep)),
        "P4_per_rep": per_rep,
        "goal": ">= 0.90",
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--only", choices=["p1p2", "p4"], default=None)
    p.add_argument("--rows", type=int, default=50_000)
    p.add_argument("--hidden", type=int, default=1280)
    p.add_argument("--shard-size", type=int, default=10_000)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--write-reps", type=int, default=3)
    p.add_argument("--p4-hidden", type=int, default=256)
    p.add_argument("--p4-rows", type=int, default=60_000)
    p.add_argument("--p4-batch", type=int, default=1024)
    p.add_argument("--p4-shard", type=int, default=10_000)
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_store_"))
    figures: dict = {"machine_note": "shared 2-core machine, other jobs running: see load averages"}
    try:
        if args.only in (None, "p1p2"):
            figures["P1_P2"] = p1_p2(args, tmp)
        if args.only in (None, "p4"):
            figures["P4"] = p4(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    write_result("store" if args.only is None else f"store_{args.only}", figures)


if __name__ == "__main__":
    main()
