#!/usr/bin/env python
"""Launch a sweep of SAE runs from a YAML list (one os.system per run)."""
import os
import sys

import yaml

runs = yaml.safe_load(open(sys.argv[1]))
for run in runs:
    ngpu = run.get("gpus", 8)
    os.system(
        f"torchrun --nproc_per_node {ngpu} train.py --cache-dir {run['cache']} "
        f"--dp-size {ngpu} --dead-count-global --lr-schedule cosine --lr-decay-steps {run['steps']}"
    )
