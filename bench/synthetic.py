"""Seeded synthetic SAE data with a known sparse dictionary (the quality benchmark's data set).

Each vector is ``offset + sum_i c_i * D_i + noise``: ``D`` = 2048 random unit directions in
d=256, each latent active independently with a Zipf-like probability (mean ~16 active per
vector, the most frequent ~28x the rarest), coefficients ``0.5 + Exp(1)``, a shared offset of
norm 2 (the mean activations of real models have) and Gaussian noise of std 0.05 per
dimension. 300k training vectors and a held-out 30k, same seed -> the same data, bit for bit.

    python bench/synthetic.py --out /tmp/synth.pt    # writes {"train", "test", "dictionary"}
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

DEFAULTS = {"n_train": 300_000, "n_test": 30_000, "d": 256, "n_true": 2048, "active": 16.0}


def _probabilities(n_true: int, active: float, g: torch.Generator) -> torch.Tensor:
    p = 1.0 / (torch.arange(n_true, dtype=torch.float64) + 20.0) ** 0.8
    p = p[torch.randperm(n_true, generator=g)]
    return (p * active / p.sum()).clamp(max=0.5).float()


def make(
    seed: int = 0,
    n_train: int = DEFAULTS["n_train"],
    n_test: int = DEFAULTS["n_test"],
    d: int = DEFAULTS["d"],
    n_true: int = DEFAULTS["n_true"],
    active: float = DEFAULTS["active"],
    noise: float = 0.05,
    chunk: int = 10_000,
) -> dict[str, torch.Tensor]:
    """-> {"train" [n_train, d], "test" [n_test, d], "dictionary" [n_true, d], "offset" [d]}."""
    g = torch.Generator().manual_seed(seed)
    dictionary = torch.nn.functional.normalize(torch.randn(n_true, d, generator=g), dim=1)
    offset = 2.0 * torch.nn.functional.normalize(torch.randn(d, generator=g), dim=0)
    p = _probabilities(n_true, active, g)
    rows = []
    total = n_train + n_test
    for start in range(0, total, chunk):
        m = min(chunk, total - start)
        on = torch.rand(m, n_true, generator=g) < p
        coef = 0.5 + torch.empty(m, n_true).exponential_(1.0, generator=g)
        x = (coef * on) @ dictionary + offset + noise * torch.randn(m, d, generator=g)
        rows.append(x)
    data = torch.cat(rows)
    return {
        "train": data[:n_train].contiguous(),
        "test": data[n_train:].contiguous(),
        "dictionary": dictionary,
        "offset": offset,
    }


def load_or_make(path: Path, seed: int = 0) -> dict[str, torch.Tensor]:
    """The data set cached at ``path`` (made and saved when absent)."""
    path = Path(path)
    if path.exists():
        return torch.load(path, weights_only=True)
    data = make(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(data, tmp)
    tmp.replace(path)
    return data


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    data = load_or_make(args.out, args.seed)
    print({k: tuple(v.shape) for k, v in data.items()}, "->", args.out)


if __name__ == "__main__":
    main()
