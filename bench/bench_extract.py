"""Benchmarks P3 and P7 (issue 5).

P3: tokens/s of the rendered esm2 `extract.py` (in-process `extract()`: tokenize, forward,
    mask, cast, append, finalize) vs a forward-only loop over the same model and the same
    length-sorted batches (pre-tokenized, nothing stored). Goal: ratio >= 0.8.
P7: wall time of the main job, `recipegen demo` (render, tiny model, smoke pipeline, report).
    Goal: <= 60 s.
Both figures come from one run on this machine and go to bench/results/extract.json.

Usage: python bench/bench_extract.py [--skip-demo] [--repeats N]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "extract.json"
FASTA = REPO / "recipegen" / "data" / "demo_proteins.fasta"


def load_module(path: Path):
    spec = importlib.util.spec_from_file_location("rendered_extract", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bench_p3(work: Path, repeats: int, n_sequences: int) -> dict:
    import torch
    from recipegen.generator.generate import generate
    from transformers import AutoModel, AutoTokenizer

    from recipegen.demo import write_tiny_esm2

    files = generate("esm2").files
    (work / "extract.py").write_text(files["extract.py"])
    extract = load_module(work / "extract.py")
    model_dir = write_tiny_esm2(work / "tiny_esm2")
    argv = ["--input", str(FASTA), "--checkpoint", str(model_dir), "--layer", "5",
            "--batch-size", "32", "--max-tokens-per-batch", "8192", "--device", "cpu",
            "--max-sequences", str(n_sequences)]  # fmt: skip

    # The same batches the extractor builds: length-sorted, token-capped.
    sequences = extract.read_sequences(FASTA)[:n_sequences]
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir).eval()
    lengths = [min(len(s), 1024) + 2 for s in sequences]
    batches = extract.length_batches(lengths, 32, 8192)
    encoded = [
        tokenizer(
            [sequences[i] for i in b],
            padding=True,
            truncation=True,
            max_length=1026,
            return_tensors="pt",
        )  # fmt: skip
        for b in batches
    ]

    def forward_only() -> int:
        n = 0
        with torch.inference_mode():
            for enc in encoded:
                out = model(**enc, output_hidden_states=True)
                n += int(enc["attention_mask"].sum()) - 2 * enc["input_ids"].shape[0]
                del out
        return n

    def full_extract(i: int) -> int:
        out = work / f"store_{i}"
        extract.main([*argv, "--output", str(out)])
        n = json.loads((out / "metadata.json").read_text())["n_samples"]
        shutil.rmtree(out)
        return n

    full_extract(-1)  # warm-up (page cache, allocator, lazy imports)
    forward_only()
    fwd, ext = [], []
    for i in range(repeats):  # interleaved, so machine load affects both alike
        t = time.perf_counter()
        n_fwd = forward_only()
        fwd.append(n_fwd / (time.perf_counter() - t))
        t = time.perf_counter()
        n_ext = full_extract(i)
        ext.append(n_ext / (time.perf_counter() - t))
    assert n_fwd == n_ext, (n_fwd, n_ext)
    best_fwd, best_ext = max(fwd), max(ext)
    return {
        "tokens": n_ext,
        "forward_only_tokens_per_s": round(best_fwd, 1),
        "extract_tokens_per_s": round(best_ext, 1),
        "ratio": round(best_ext / best_fwd, 3),
        "goal_ratio": 0.8,
        "model": "the demo's random ESM2 (6 layers, hidden 64), CPU",
        "sequences": n_sequences,
        "repeats": repeats,
    }


def bench_p7() -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench-demo-"))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO / "sae" / "src"), *filter(None, [env.get("PYTHONPATH")])]
    )
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", "from recipegen.cli import main; main()", "demo",
         "--workdir", str(work)],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    wall = time.perf_counter() - t
    shutil.rmtree(work, ignore_errors=True)
    if proc.returncode != 0:
        raise SystemExit(f"recipegen demo failed:\n{proc.stderr[-3000:]}")
    return {"main_job_wall_s": round(wall, 1), "goal_s": 60}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--skip-demo", action="store_true", help="P3 only")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--sequences", type=int, default=120, help="demo FASTA sequences for P3")
    args = p.parse_args()
    sys.path.insert(0, str(REPO / "sae" / "src"))
    results = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "load": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp:
        results["p3_extract"] = bench_p3(Path(tmp), args.repeats, args.sequences)
    print(json.dumps(results["p3_extract"], indent=2))
    if not args.skip_demo:
        results["p7_main_job"] = bench_p7()
        print(json.dumps(results["p7_main_job"], indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
