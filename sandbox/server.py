"""The HTTP shell around `SandboxApp`: bytes in, bytes out, one thread per connection."""

from __future__ import annotations

import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sandbox.app import SandboxApp


class SandboxHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"     # keep-alive, like Binance; every reply has a length
    # Headers and body go out in two writes: with Nagle on, the body would wait for the
    # client's delayed ACK (~40 ms) on every reply.
    disable_nagle_algorithm = True
    server_version = "sandbox-exchange"

    def version_string(self) -> str:
        return self.server_version

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        started = time.monotonic()
        target = self.path.encode("latin-1")     # the request target exactly as sent
        path, _, query = target.partition(b"?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        app: SandboxApp = self.server.app  # type: ignore[attr-defined]
        reply = app.handle(self.command, path.decode("latin-1"), query, body,
                           self.headers.get("X-MBX-APIKEY"), self.client_address[0])
        if reply.drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._log(path, "dropped", started)
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)
        self._log(path, str(reply.status), started)

    def _log(self, path: bytes, outcome: str, started: float) -> None:
        if not self.server.quiet:  # type: ignore[attr-defined]
            elapsed = (time.monotonic() - started) * 1000
            sys.stderr.write(f"sandbox request method={self.command} path={path.decode('latin-1')} "
                             f"status={outcome} ms={elapsed:.1f}\n")

    def log_message(self, format: str, *args: object) -> None:
        """Silence http.server's own access log; `_log` writes one line per request."""


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128          # bursts of concurrent clients (benchmarks) must not be refused

    def __init__(self, address: tuple[str, int], app: SandboxApp, quiet: bool = False) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.app = app
        self.quiet = quiet
        super().__init__(address, SandboxHandler)

    def url(self) -> str:
        host, port = self.server_address[0], self.server_address[1]
        shown = f"[{host}]" if ":" in str(host) else host
        return f"http://{shown}:{port}"
