"""Dump layer activations as .npy files (no ActivationStore, no metadata.json)."""

import argparse
from pathlib import Path

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--output", required=True)
    args = ap.parse_args()
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "acts_000.npy", np.zeros((4, 8), dtype=np.float32))


if __name__ == "__main__":
    main()
