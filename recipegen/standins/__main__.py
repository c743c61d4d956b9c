"""`python -m recipegen.standins KIND --out DIR`: a bundled input and a tiny stand-in model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from recipegen.standins import KINDS, write_standin


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m recipegen.standins",
        description="Write DIR/input.fasta and a tiny random stand-in model DIR/model.",
    )
    p.add_argument("kind", choices=KINDS, help="the recipe's extraction kind")
    p.add_argument("--out", type=Path, required=True, help="folder to write into")
    p.add_argument("--n-layers", type=int, default=6, help="blocks of the stand-in model")
    p.add_argument("--context-length", type=int, default=256, help="custom: model context")
    p.add_argument("--spaced", action="store_true", help="hf: a ProtBert-style spaced BERT")
    args = p.parse_args(argv)
    if not 1 <= args.n_layers <= 64 or not 8 <= args.context_length <= 1_000_000:
        p.error("--n-layers must be in 1..64 and --context-length in 8..1000000")
    fasta, model = write_standin(
        args.kind,
        args.out,
        n_layers=args.n_layers,
        context=args.context_length,
        spaced=args.spaced,
    )
    print(f"stand-in: input {fasta}, model {model}", file=sys.stderr)


if __name__ == "__main__":
    main()
