"""A tiny HTTPS file server on loopback, with its own CA (trustme), for `file_url` tests.

Serves fixed bodies by path and answers redirects; records every request (path and Host header) so a
test can prove a refused URL was never fetched. Clients trust it through `ca_path` (e.g. SSL_CERT_FILE).
"""

from __future__ import annotations

import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import trustme

__all__ = ["TlsFileServer"]

NAMES = ("127.0.0.1", "::1", "localhost", "files.example")


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 -- http.server's naming
        owner = self.server.owner
        with owner.lock:
            owner.requests.append((self.path, self.headers.get("Host", "")))
        if self.path in owner.redirects:
            self.send_response(302)
            self.send_header("Location", owner.redirects[self.path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = owner.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "audio/wav")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: TlsFileServer


class TlsFileServer:
    def __init__(self, directory: Path, files: dict[str, bytes], redirects: dict[str, str] | None = None):
        self.ca = trustme.CA()
        self.ca_path = directory / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_path))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert(*NAMES).configure_cert(context)
        self.files = files
        self.redirects = redirects or {}
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="tls-file-server", daemon=True)
        self._thread.start()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"https://{host}:{self.port}{path}"

    def paths(self) -> list[str]:
        with self.lock:
            return [path for path, _ in self.requests]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
