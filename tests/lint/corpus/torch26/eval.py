"""Evaluate a saved SAE; the project pins torch>=2.6, where torch.load defaults to weights_only."""

import argparse

import torch


def load(path):
    return torch.load(path, map_location="cpu")


def load_legacy(path):
    # a pickled optimizer state from an old run: still reported
    return torch.load(path, map_location="cpu", weights_only=False)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--ckpt", required=True)
    a = p.parse_args()
    print(sorted(load(a.ckpt)))
