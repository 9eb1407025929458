"""HTTP server plumbing: ThreadingHTTPServer, keep-alive, and the ``serve`` entry point.

Plain HTTP: google-api-python-client takes any ``api_endpoint``, http included, so unlike the
Salesforce sandbox no certificate authority is needed.
"""

from __future__ import annotations

import logging
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .app import GoogleSandbox
from .errors import internal
from .wire import Request, Response

log = logging.getLogger("google_sandbox")

PROJECT_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_STATE = PROJECT_ROOT / "var" / "sandbox" / "google.sqlite3"
DEFAULT_PORT = 8444


class SandboxHandler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps connections alive between calls (httplib2 reuses them).
    protocol_version = "HTTP/1.1"
    server_version = "ESF"  # Google's front end calls itself that
    sandbox: GoogleSandbox  # set on the subclass built by make_server

    def _handle(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        host = (
            self.headers.get("Host")
            or f"{self.server.server_address[0]}:{self.server.server_address[1]}"
        )
        request = Request(
            method=self.command,
            path=split.path,
            params=parse_qs(split.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            base_url=f"http://{host}",
        )
        try:
            response = self.sandbox.handle(request)
        except Exception:  # answer like Google rather than dropping the connection
            log.exception("unhandled error for %s %s", self.command, self.path)
            response = Response.error(internal())
        self._send(response)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        if response.content_type:
            self.send_header("Content-Type", response.content_type)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD" and response.body:
            self.wfile.write(response.body)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _handle

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s - %s", self.address_string(), format % args)


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def get_request(self) -> tuple[socket.socket, object]:
        sock, address = super().get_request()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, address


def make_server(
    *, host: str = "127.0.0.1", port: int = DEFAULT_PORT, state: Path | str | None = None
) -> tuple[SandboxServer, GoogleSandbox]:
    """Build the server (not yet serving); returns it and the account runtime."""
    sandbox = GoogleSandbox(Path(state) if state else DEFAULT_STATE)
    handler = type("BoundSandboxHandler", (SandboxHandler,), {"sandbox": sandbox})
    return SandboxServer((host, port), handler), sandbox


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    state: Path | str | None = None,
    out: object = None,
) -> None:
    """Run the Google People API sandbox until interrupted (Ctrl-C / SIGTERM)."""
    stream: Any = out or sys.stdout
    server, sandbox = make_server(host=host, port=port, state=state)
    actual_port = server.server_address[1]
    for line in (
        f"Google People API sandbox listening on http://{host}:{actual_port}/",
        f"State: {sandbox.store.path}",
    ):
        stream.write(line + "\n")
    stream.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        sandbox.store.close()
