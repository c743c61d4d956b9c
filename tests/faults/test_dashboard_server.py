"""The dashboard server under hostile folders and unlucky ports (issues 21 and 25): real
processes, real sockets, real HTTP; `python -m sae.dashboard` as a user runs it."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("pyarrow")

from sae.analysis.serve import TOKEN_HEADER, DashboardError, launch_dashboard  # noqa: E402

CLI = [sys.executable, "-m", "sae.dashboard"]


def _site(root: Path, text: str = "<title>mine</title>") -> Path:
    site = root / "site"
    site.mkdir(parents=True)
    (site / "index.html").write_text(text)
    return site


def _get(url: str, path: str = "/"):
    host, port = url.split("//")[1].rstrip("/").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read(), resp.getheader(TOKEN_HEADER)
    finally:
        conn.close()


def _serve(site: Path, *args: str, cwd: Path | None = None):
    """Start the CLI; -> (process, url) once it printed its URL line."""
    proc = subprocess.Popen(
        [*CLI, str(site), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
    )
    line = proc.stdout.readline()
    if "http://" not in line:
        proc.kill()
        out, err = proc.communicate(timeout=30)
        raise AssertionError(f"no URL line: {line!r} {out!r} {err[-3000:]!r}")
    assert "(Ctrl-C stops it)" in line and "proc.terminate" not in line, line
    return proc, line.split(" at ", 1)[1].split()[0]


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in state  # dead, waiting to be reaped


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def test_the_served_folder_cannot_shadow_modules(tmp_path):
    site = _site(tmp_path)
    marker = tmp_path / "PWNED"
    payload = f"open({str(marker)!r}, 'w').write('ran')\n"
    (site / "http").mkdir()
    (site / "http" / "__init__.py").write_text(payload)
    (site / "http" / "server.py").write_text(payload)
    (site / "socket.py").write_text(payload)
    (site / "email").mkdir()
    (site / "email" / "__init__.py").write_text(payload)
    proc, url = _serve(site, cwd=tmp_path)
    try:
        status, body, token = _get(url)
        assert status == 200 and b"mine" in body and token
        assert not marker.exists()
        # the child runs isolated (-I) with the folder as an argument, not as cwd or sys.path
        (child,) = _children(proc.pid)
        argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        assert argv[1] == b"-I" and argv[2].endswith(b"sae/dashboard/server.py")
        assert os.readlink(f"/proc/{child}/cwd") == "/"
    finally:
        _stop(proc)
    assert not marker.exists()


def test_only_regular_files_inside_the_folder_are_served(tmp_path):
    site = _site(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    (site / "out.txt").symlink_to(secret)
    (site / "passwd").symlink_to("/etc/passwd")
    (site / "up").symlink_to(tmp_path)
    (site / "data").mkdir()
    (site / "data" / "ok.js").write_text("ok();")
    (site / "in.js").symlink_to(site / "data" / "ok.js")  # a link that stays inside is fine
    os.mkfifo(site / "fifo")
    (site / "zero").symlink_to("/dev/zero")
    proc, url = _serve(site)
    try:
        assert _get(url, "/data/ok.js")[:2] == (200, b"ok();")
        assert _get(url, "/in.js")[:2] == (200, b"ok();")
        for path in ("/out.txt", "/passwd", "/up/secret.txt", "/fifo", "/zero",
                     "/../secret.txt", "/%2e%2e/secret.txt", "/data/"):  # fmt: skip
            status, body, token = _get(url, path)
            assert status == 404 and b"SECRET" not in body and b"root:" not in body, path
            assert token  # still our server answering
        assert _get(url, "/data")[0] == 301
    finally:
        _stop(proc)


def test_a_busy_port_is_an_error_naming_it_not_someone_elses_page(tmp_path):
    other = _site(tmp_path / "other", "<b>OLD</b>")
    mine = _site(tmp_path)
    # another program (a plain http.server of another folder) already holds the port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    squatter = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=other,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.05)
        t0 = time.monotonic()
        run = subprocess.run(
            [*CLI, str(mine), "--port", str(port)], capture_output=True, text=True, timeout=60
        )
        assert run.returncode == 2, run
        assert run.stdout == "" and "http://" not in run.stderr  # no URL that would lie
        assert f"port {port} on 127.0.0.1 is already in use" in run.stderr
        assert "--port N" in run.stderr and "Traceback" not in run.stderr
        assert time.monotonic() - t0 < 30
        with pytest.raises(DashboardError, match=f"port {port} on 127.0.0.1 is already in use"):
            launch_dashboard(mine, port=port)
    finally:
        squatter.terminate()
        squatter.wait(10)


def test_default_port_is_free_and_the_printed_url_serves_this_folder(tmp_path):
    a = _site(tmp_path / "a", "<p>AAA</p>")
    b = _site(tmp_path / "b", "<p>BBB</p>")
    pa, url_a = _serve(a)
    pb, url_b = _serve(b)
    try:
        assert url_a != url_b and url_a.startswith("http://127.0.0.1:")
        assert b"AAA" in _get(url_a)[1] and b"BBB" in _get(url_b)[1]
    finally:
        _stop(pa)
        _stop(pb)
    assert pa.returncode == 0 and pb.returncode == 0


def test_api_returns_the_process_with_its_real_url(tmp_path, capsys):
    site = _site(tmp_path)
    proc = launch_dashboard(site, port=0)
    try:
        assert proc.url.startswith("http://127.0.0.1:") and proc.url in capsys.readouterr().out
        assert _get(proc.url)[0] == 200
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGKILL])
def test_the_server_stops_with_its_launcher(tmp_path, sig):
    site = _site(tmp_path)
    proc, url = _serve(site)
    (child,) = _children(proc.pid)
    assert _get(url)[0] == 200
    proc.send_signal(sig)
    proc.wait(20)
    if sig != signal.SIGKILL:
        assert proc.returncode == 0, proc.stderr.read()
    deadline = time.monotonic() + 20
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(child)
    port = int(url.rstrip("/").rsplit(":", 1)[1])
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_help_is_complete_and_bad_paths_exit_2(tmp_path):
    run = subprocess.run([*CLI, "--help"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0
    text = run.stdout
    assert "Ctrl-C" in text and "features_atlas.parquet" in text and "--port" in text
    assert "127.0.0.1" in text and "proc.terminate" not in text
    assert text.rstrip().endswith(".")  # no sentence stops midway
    for args, words in (
        ([str(tmp_path / "nope")], "no such file"),
        ([str(tmp_path)], "has no index.html"),
        ([str(tmp_path), "--port", "70000"], "not in 0..65535"),
    ):
        run = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60)
        assert run.returncode == 2 and words in run.stderr and "Traceback" not in run.stderr
