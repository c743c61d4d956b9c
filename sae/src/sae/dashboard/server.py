"""The dashboard's HTTP server process (standard library only; started by
``sae.analysis.serve``, never imported by it).

It is run as ``python -I <this file> FD ROOT TOKEN PARENT_PID``: ``-I`` keeps the served folder,
the working directory and PYTHONPATH off ``sys.path`` (a folder holding ``http/server.py`` cannot
replace the standard library), and the listening socket ``FD`` was bound by the launcher, which
therefore knows the real port (and a busy port) before this process starts.

Requests are served from ROOT only: a path whose real location (symlinks resolved) is outside
ROOT, or that is not a regular file (a FIFO, a device, a socket), is answered 404; directories
are not listed. Every response carries ``X-SAE-Dashboard: TOKEN`` so the launcher can tell this
server from whatever else may answer on the port. The process ends with its launcher (Linux
``PR_SET_PDEATHSIG``; it also exits if the launcher is already gone when it starts).
"""

from __future__ import annotations

import email.utils
import os
import signal
import socket
import stat
import sys
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

TOKEN_HEADER = "X-SAE-Dashboard"


def _die_with_parent(parent_pid: int) -> None:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the launcher's handlers stop us instead
        pass
    if os.getppid() != parent_pid:  # the launcher died before the line above ran
        sys.exit(0)


def _inside(real: str, root: str) -> bool:
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def make_handler(root: str, token: str) -> type[SimpleHTTPRequestHandler]:
    root = os.path.realpath(root)

    class DashboardHandler(SimpleHTTPRequestHandler):
        server_version = "sae-dashboard"
        sys_version = ""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=root, **kwargs)

        def end_headers(self) -> None:
            self.send_header(TOKEN_HEADER, token)
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Cache-Control", "no-store")
            super().end_headers()

        def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's name
            pass  # no access log on the user's terminal

        def list_directory(self, path):
            self.send_error(HTTPStatus.NOT_FOUND, "directory listing is off")
            return None

        def send_head(self):
            url_path = urlsplit(self.path).path
            path = self.translate_path(self.path)
            if os.path.isdir(path):
                if not url_path.endswith("/"):
                    self.send_response(HTTPStatus.MOVED_PERMANENTLY)
                    self.send_header("Location", url_path + "/")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                path = os.path.join(path, "index.html")
            f = self._open_inside(path)
            if f is None:
                return None
            fs = os.fstat(f.fileno())
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-type", self.guess_type(path))
            self.send_header("Content-Length", str(fs.st_size))
            self.send_header("Last-Modified", email.utils.formatdate(fs.st_mtime, usegmt=True))
            self.end_headers()
            return f

        def _open_inside(self, path: str):
            real = os.path.realpath(path)
            if not _inside(real, root):
                self.send_error(HTTPStatus.NOT_FOUND, "outside the dashboard folder")
                return None
            flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)
            try:
                fd = os.open(real, flags | getattr(os, "O_CLOEXEC", 0))
            except OSError:
                self.send_error(HTTPStatus.NOT_FOUND, "file not found")
                return None
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                self.send_error(HTTPStatus.NOT_FOUND, "not a regular file")
                return None
            return os.fdopen(fd, "rb")

    return DashboardHandler


def serve(sock: socket.socket, root: str, token: str) -> None:
    """Serve ``root`` on the already bound and listening ``sock`` until killed."""
    httpd = ThreadingHTTPServer(
        sock.getsockname()[:2], make_handler(root, token), bind_and_activate=False
    )
    httpd.socket.close()
    httpd.socket = sock
    httpd.server_address = sock.getsockname()
    httpd.server_name, httpd.server_port = "localhost", httpd.server_address[1]
    httpd.daemon_threads = True
    httpd.serve_forever()


def main(argv: list[str]) -> None:
    fd, root, token, parent = int(argv[0]), argv[1], argv[2], int(argv[3])
    _die_with_parent(parent)
    sock = socket.socket(fileno=fd)
    try:
        serve(sock, root, token)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main(sys.argv[1:])
