"""`python -m sae.dashboard DIR`: serve a feature dashboard until Ctrl-C."""

from __future__ import annotations

import argparse
import ipaddress
import signal
import subprocess
import sys

DESCRIPTION = """\
Serve a feature dashboard on this machine until Ctrl-C.

PATH is the dashboard folder analyze.py wrote (the one holding index.html), or a
features_atlas.parquet file: its dashboard is then built first into a `dashboard`
folder beside it, from the feature_metadata/feature_examples parquet files and
cluster_labels.json found next to it.

The server binds 127.0.0.1 (this machine only) on a free port unless --host or
--port say otherwise, and prints the URL to open. Only files inside PATH are
served (symlinks that lead out of it are refused). The page also works opened
straight from disk (PATH/index.html) without a server.
"""

EPILOG = """\
examples:
  python -m sae.dashboard WORK/dashboard
  python -m sae.dashboard WORK/dashboard --port 8765
  python -m sae.dashboard WORK/analysis/features_atlas.parquet --open

exit status: 0 after Ctrl-C (or SIGTERM), 2 on a bad path, a busy port or a
server that fails to start.
"""


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not in 0..65535")
    return value


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def main(argv: list[str] | None = None) -> int:
    from sae.analysis.serve import DashboardError, prepare_site, start_server

    p = argparse.ArgumentParser(
        prog="python -m sae.dashboard",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("path", metavar="PATH", help="dashboard folder, or features_atlas.parquet")
    p.add_argument(
        "--port",
        type=_port,
        default=0,
        help="port to serve on (default: 0 = a free port, printed when ready)",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default: 127.0.0.1, this machine only; 0.0.0.0 = every network)",
    )
    p.add_argument("--open", action="store_true", help="also open the page in a web browser")
    args = p.parse_args(argv)

    def error(msg: str) -> int:
        print(f"python -m sae.dashboard: error: {msg}", file=sys.stderr)
        return 2

    try:
        site = prepare_site(args.path)
        server = start_server(
            site,
            host=args.host,
            port=args.port,
            port_hint="pick another with --port N, or leave --port out to get a free port",
        )
    except (FileNotFoundError, FileExistsError, ValueError, DashboardError) as exc:
        return error(str(exc))
    proc = server.proc

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    if not _is_loopback(args.host):
        print(
            f"warning: serving to the network on {args.host}; anyone who can reach this machine "
            "can read the dashboard",
            file=sys.stderr,
        )
    print(f"Dashboard for {site} at {server.url}  (Ctrl-C stops it)", flush=True)
    if args.open:
        import webbrowser

        webbrowser.open(server.url)
    try:
        code = proc.wait()
        return error(f"the dashboard server stopped unexpectedly (exit code {code})")
    except KeyboardInterrupt:
        print("\nstopped", file=sys.stderr)
        return 0
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    sys.exit(main())
