"""P1/P2: activation-store read and write, our layout vs the reference layout.

Ours (``fsb``): one fixed-size-binary column, a token's raw vector per row. Also measured: a
``FixedSizeList<float>`` column (the other single-column candidate), for the layout choice.

Same data, same run: H=1280 (ESM2-650M width), >= 50k rows, snappy compression, float32 (the
reference's dtype) and float16. Goal: >= 5x faster than the reference layout for both.

    python bench/bench_store.py [--rows 50000] [--hidden 1280] [--shard-size 10000]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import best_of, write_result  # noqa: E402
from sae.activation_store import (  # noqa: E402
    ActivationStore,
    ActivationStoreConfig,
    read_shard,
    shard_name,
    write_reference_shard,
)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rows", type=int, default=50_000)
    p.add_argument("--hidden", type=int, default=1280)
    p.add_argument("--shard-size", type=int, default=10_000)
    p.add_argument("--repeats", type=int, default=3, help="best-of for writes")
    p.add_argument("--read-repeats", type=int, default=7, help="best-of for reads (cheap)")
    args = p.parse_args()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.rows, args.hidden), dtype=np.float32)
    n_shards = -(-args.rows // args.shard_size)
    tmp = Path(tempfile.mkdtemp(prefix="bench_store_"))
    figures: dict = {
        "rows": args.rows,
        "hidden_dim": args.hidden,
        "shard_size": args.shard_size,
        "compression": "snappy",
    }
    try:

        def write_ref():
            d = tmp / "ref"
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir()
            for i in range(n_shards):
                part = x[i * args.shard_size : (i + 1) * args.shard_size]
                write_reference_shard(d / shard_name(i), part, "snappy")

        def write_ours(dtype):
            def run():
                d = tmp / f"ours_{dtype}"
                shutil.rmtree(d, ignore_errors=True)
                store = ActivationStore(d, ActivationStoreConfig(args.shard_size, "snappy", dtype))
                for chunk in np.array_split(x, 50):
                    store.append(chunk)
                store.finalize()

            return run

        def read_dir(d, to_fp32=True):
            def run():
                for i in range(n_shards):
                    arr = read_shard(d / shard_name(i))
                    if to_fp32:
                        arr.astype(np.float32, copy=False)

            return run

        def write_fsl():
            d = tmp / "fsl"
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir()
            for i in range(n_shards):
                part = x[i * args.shard_size : (i + 1) * args.shard_size]
                col = pa.FixedSizeListArray.from_arrays(pa.array(part.reshape(-1)), args.hidden)
                table = pa.Table.from_arrays([col], names=["activations"])
                pq.write_table(
                    table,
                    d / shard_name(i),
                    compression="snappy",
                    use_dictionary=False,
                    write_statistics=False,
                )

        t_wfsl = best_of(write_fsl, args.repeats)
        t_rfsl = best_of(read_dir(tmp / "fsl"), args.read_repeats)
        t_wref = best_of(write_ref, args.repeats)
        t_w32 = best_of(write_ours("float32"), args.repeats)
        t_w16 = best_of(write_ours("float16"), args.repeats)
        t_rref = best_of(read_dir(tmp / "ref"), args.read_repeats)
        t_r32 = best_of(read_dir(tmp / "ours_float32"), args.read_repeats)
        t_r16 = best_of(read_dir(tmp / "ours_float16"), args.read_repeats)
        t_r16raw = best_of(read_dir(tmp / "ours_float16", to_fp32=False), args.read_repeats)
        assert np.array_equal(ActivationStore(tmp / "ours_float32").load_all().numpy(), x)
        ref_back = np.concatenate(
            [read_shard(tmp / "ref" / shard_name(i)) for i in range(n_shards)]
        )
        assert np.array_equal(ref_back, x)

        def size(d):
            return sum(f.stat().st_size for f in (tmp / d).glob("shard_*")) / 2**20

        mb = x.nbytes / 2**20
        figures.update(
            write_s={
                "reference_fp32": t_wref,
                "fixed_size_list_fp32": t_wfsl,
                "fsb_fp32": t_w32,
                "fsb_fp16": t_w16,
            },
            read_s={
                "reference_fp32": t_rref,
                "fixed_size_list_fp32": t_rfsl,
                "fsb_fp32": t_r32,
                "fsb_fp16": t_r16,
                "fsb_fp16_without_fp32_cast": t_r16raw,
            },
            read_rows_per_s={
                "reference_fp32": args.rows / t_rref,
                "fsb_fp32": args.rows / t_r32,
                "fsb_fp16": args.rows / t_r16,
            },
            write_MB_per_s_fp32_input={
                "reference_fp32": mb / t_wref,
                "fsb_fp32": mb / t_w32,
                "fsb_fp16": mb / t_w16,
            },
            disk_MiB={
                "reference_fp32": size("ref"),
                "fsb_fp32": size("ours_float32"),
                "fsb_fp16": size("ours_float16"),
            },
            P1_read_speedup_fp32=t_rref / t_r32,
            P1_read_speedup_fp16=t_rref / t_r16,
            P2_write_speedup_fp32=t_wref / t_w32,
            P2_write_speedup_fp16=t_wref / t_w16,
            goal="P1 and P2 >= 5x",
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    write_result("store", figures)


if __name__ == "__main__":
    main()
