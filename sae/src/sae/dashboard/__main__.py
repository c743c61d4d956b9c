"""`python -m sae.dashboard DIR [--port N]`: serve a built dashboard (or build one from a
features_atlas.parquet file) until Ctrl-C."""

from __future__ import annotations

import argparse
import sys

from sae.analysis.serve import launch_dashboard


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sae.dashboard", description=__doc__.splitlines()[0])
    p.add_argument("path", help="dashboard directory (index.html) or features_atlas.parquet")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--host", default="127.0.0.1", help="bind address (default: this machine only)")
    args = p.parse_args(argv)
    try:
        proc = launch_dashboard(args.path, port=args.port, host=args.host)
    except (FileNotFoundError, FileExistsError, ValueError, RuntimeError) as exc:
        print(f"python -m sae.dashboard: error: {exc}", file=sys.stderr)
        return 2
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        return 0


if __name__ == "__main__":
    sys.exit(main())
