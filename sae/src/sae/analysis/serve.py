"""`launch_dashboard`: serve the static feature dashboard from a child process (standard library
HTTP server, no Node toolchain), returned the way the reference returns its dev server.

How it is served (``sae/dashboard/server.py`` has the server side):

* The launcher binds the port itself (``port=0``: a free one) and hands the listening socket to
  the child, so a busy port is a ``DashboardError`` naming it at once, and the URL printed is
  the real one.
* The child runs ``python -I`` on our own server module with the folder as a ``directory=``
  argument, never as its working directory or ``sys.path`` entry: files in the served folder
  cannot shadow a module. It serves regular files whose real path is inside the folder only
  (symlinks out of it, FIFOs and devices are 404) and lists no directories.
* Ready means "our server answers with this launch's token" (an ``X-SAE-Dashboard`` header on
  ``index.html``), not "something listens on the port".
* Bound to 127.0.0.1 unless ``host`` says otherwise; the child ends when its launcher ends
  (``PR_SET_PDEATHSIG`` on Linux, plus ``python -m sae.dashboard``'s SIGTERM/SIGHUP handlers).
"""

from __future__ import annotations

import errno
import http.client
import ipaddress
import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

SERVER_SCRIPT = Path(__file__).resolve().parents[1] / "dashboard" / "server.py"
TOKEN_HEADER = "X-SAE-Dashboard"


class DashboardError(RuntimeError):
    """The dashboard cannot be served (busy port, bad host, server failed to start)."""

    def __init__(self, message: str, port: int | None = None):
        super().__init__(message)
        self.port = port


@dataclass
class DashboardServer:
    proc: subprocess.Popen
    url: str
    host: str
    port: int
    site: Path


def _bind(host: str, port: int, port_hint: str) -> socket.socket:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise DashboardError(
            f"port must be an integer in 0..65535 (0 = any free port), got {port!r}"
        )
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise DashboardError(f"cannot bind to host {host!r}: {exc.strerror}") from None
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # never SO_REUSEPORT
        sock.bind(addr)
        sock.listen(64)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise DashboardError(
                f"port {port} on {host} is already in use by another program; {port_hint}",
                port=port,
            ) from None
        if exc.errno == errno.EACCES:
            raise DashboardError(
                f"port {port} on {host} needs privileges to bind; {port_hint}", port=port
            ) from None
        raise DashboardError(f"cannot listen on {host}:{port}: {exc.strerror}", port=port) from None
    return sock


def _probe_host(host: str) -> str:
    """The address a client on this machine reaches ``host`` at (wildcards -> loopback)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    if ip.is_unspecified:
        return "::1" if ip.version == 6 else "127.0.0.1"
    return host


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def _is_ours(host: str, port: int, token: str) -> bool:
    conn = http.client.HTTPConnection(host, port, timeout=1.0)
    try:
        conn.request("GET", "/index.html")
        resp = conn.getresponse()
        resp.read()
        return resp.status == 200 and resp.getheader(TOKEN_HEADER) == token
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def start_server(
    site: str | Path,
    host: str = "127.0.0.1",
    port: int = 0,
    timeout_s: float = 15.0,
    port_hint: str = "pass another port (port=0 picks a free one)",
) -> DashboardServer:
    """Serve the built dashboard folder ``site`` (with index.html) in a child process; -> the
    process and the real URL once the child serves this folder. Raises ``DashboardError``."""
    site = Path(site).resolve()
    if not (site / "index.html").is_file():
        raise FileNotFoundError(f"{site} has no index.html; build the dashboard first")
    sock = _bind(host, port, port_hint)
    real_port = sock.getsockname()[1]
    token = secrets.token_hex(16)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", str(SERVER_SCRIPT), str(sock.fileno()), str(site), token,
             str(os.getpid())],
            cwd="/",
            pass_fds=[sock.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
    finally:
        sock.close()  # the child holds its own copy
    probe = _probe_host(host)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DashboardError(
                f"the dashboard server for {site} exited (code {proc.returncode}) before serving; "
                "its message is above",
                port=real_port,
            )
        if _is_ours(probe, real_port, token):
            return DashboardServer(proc, _url(host, real_port), host, real_port, site)
        time.sleep(0.05)
    proc.terminate()
    proc.wait(10)
    raise DashboardError(
        f"the dashboard server did not serve {site} on {host}:{real_port} within {timeout_s:g}s",
        port=real_port,
    )


def prepare_site(
    data_path: str | Path,
    features_dir: str | Path | None = None,
    cluster_labels_path: str | Path | None = None,
    viz_dir: str | Path | None = None,
) -> Path:
    """The dashboard folder to serve for ``data_path`` (a built folder, or a
    features_atlas.parquet file whose dashboard is built first)."""
    from sae.dashboard import build_dashboard

    data_path = Path(data_path).resolve()
    if not data_path.exists():
        raise FileNotFoundError(f"{data_path}: no such file or directory")
    if data_path.is_dir():
        if not (data_path / "index.html").is_file():
            raise FileNotFoundError(
                f"{data_path} has no index.html; pass the dashboard directory analyze.py wrote, "
                "or a features_atlas.parquet file"
            )
        return data_path
    source = Path(features_dir).resolve() if features_dir else data_path.parent
    site = Path(viz_dir).resolve() if viz_dir else data_path.parent / "dashboard"
    build_dashboard(
        site, atlas_path=data_path, features_dir=source, cluster_labels_path=cluster_labels_path
    )
    return site


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
    (``proc.terminate()`` stops it; it also ends when this process ends).

    ``data_path`` is either a built dashboard directory (with index.html) or a
    features_atlas.parquet file (ours or the reference's); for the latter the dashboard is built
    into ``viz_dir`` (default: a ``dashboard`` directory beside the parquet file) from it, the
    feature_metadata/feature_examples parquet files in ``features_dir`` (default: the same
    directory) and cluster_labels.json when present. ``port=0`` picks a free port; the URL is
    printed and kept on the process as ``proc.url``. A busy port raises ``DashboardError``.
    """
    site = prepare_site(data_path, features_dir, cluster_labels_path, viz_dir)
    server = start_server(site, host=host, port=port)
    server.proc.url = server.url
    print(f"Dashboard for {site} at {server.url} (proc.terminate() stops it)")
    if open_browser:
        import webbrowser

        webbrowser.open(server.url)
    return server.proc
