"""Sweep top_k on one node; each run uses every GPU."""

import subprocess
import sys

NPROC = 4
for k in (16, 32, 64):
    argv = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(NPROC)]
    argv += ["train.py", "--cache-dir", "cache", "--dp-size", str(NPROC), "--top-k", str(k)]
    argv += ["--dead-count-global", "--lr-schedule", "cosine", "--max-steps", "20000"]
    subprocess.run(argv, check=True)
