"""`launch_dashboard`: serve the static feature dashboard with the standard library's HTTP
server in a child process (no Node toolchain), the way the reference returns its dev server."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path


def _wait_for_port(proc: subprocess.Popen, host: str, port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"the dashboard server exited (code {proc.returncode}); is port {port} in use? "
                "Pass another port=..."
            )
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    proc.terminate()
    raise RuntimeError(f"the dashboard server did not listen on {host}:{port} within {timeout_s}s")


def launch_dashboard(
    data_path: str | Path,
    features_dir: str | Path | None = None,
    cluster_labels_path: str | Path | None = None,
    viz_dir: str | Path | None = None,
    port: int = 5173,
    host: str = "127.0.0.1",
    open_browser: bool = False,
) -> subprocess.Popen:
    """Serve a feature dashboard at http://host:port/ and return the server process
    (`proc.terminate()` stops it).

    `data_path` is either a built dashboard directory (with index.html) or a
    features_atlas.parquet file (ours or the reference's); for the latter the dashboard is built
    into `viz_dir` (default: a `dashboard` directory beside the parquet file) from it, the
    feature_metadata/feature_examples parquet files in `features_dir` (default: the same
    directory) and cluster_labels.json when present.
    """
    from sae.dashboard import build_dashboard

    data_path = Path(data_path).resolve()
    if not data_path.exists():
        raise FileNotFoundError(f"launch_dashboard: {data_path}: no such file or directory")
    if data_path.is_dir():
        if not (data_path / "index.html").is_file():
            raise FileNotFoundError(
                f"launch_dashboard: {data_path} has no index.html; pass the dashboard directory "
                "analyze.py wrote, or a features_atlas.parquet file"
            )
        site = data_path
    else:
        source = Path(features_dir).resolve() if features_dir else data_path.parent
        site = Path(viz_dir).resolve() if viz_dir else data_path.parent / "dashboard"
        build_dashboard(
            site,
            atlas_path=data_path,
            features_dir=source,
            cluster_labels_path=cluster_labels_path,
        )
    cmd = [sys.executable, "-m", "http.server", str(int(port)), "--bind", host]
    proc = subprocess.Popen(
        cmd,
        cwd=site,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    _wait_for_port(proc, host, int(port), timeout_s=15.0)
    url = f"http://{host}:{int(port)}/"
    print(f"Dashboard for {site} at {url} (proc.terminate() stops it)")
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    return proc
