"""HTTP plumbing shared by the sandboxes: a keep-alive threaded server and a request handler.

Each sandbox subclasses `SandboxHandler`, says how it reads query strings and how it answers
an unexpected error in its remote system's own format, and binds its runtime as `sandbox`.
"""

from __future__ import annotations

import logging
import socket
from abc import ABC, abstractmethod
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger("sandbox")


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def get_request(self) -> tuple[socket.socket, object]:
        sock, address = super().get_request()
        # Small JSON answers on kept-alive connections: don't let Nagle delay each one.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, address


class SandboxHandler(BaseHTTPRequestHandler, ABC):
    """Reads a request, hands it to `sandbox.handle`, writes the response it returns."""

    # HTTP/1.1 keeps connections alive between calls; it matters for per-call overhead.
    protocol_version = "HTTP/1.1"
    scheme = "http"
    # Exceptions that mean "close the connection without an answer" (an injected timeout).
    drop_connection_on: tuple[type[Exception], ...] = ()
    sandbox: Any  # the remote system's runtime, set on the subclass that make_server builds

    @abstractmethod
    def parse_query(self, query: str) -> Any:
        """The query string as the remote system reads it (repeated parameters differ)."""

    @abstractmethod
    def build_request(self, **parts: Any) -> Any:
        """The sandbox's own Request from the parts read off the wire."""

    @abstractmethod
    def answer_unexpected(self) -> Any:
        """The response to an unhandled error, in the remote system's own format."""

    def _handle(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        host = (
            self.headers.get("Host")
            or f"{self.server.server_address[0]}:{self.server.server_address[1]}"
        )
        request = self.build_request(
            method=self.command,
            path=split.path,
            params=self.parse_query(split.query),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            base_url=f"{self.scheme}://{host}",
        )
        response = self.respond(request)
        if response is not None:
            self._send(response)

    def respond(self, request: Any) -> Any:
        """The sandbox's response, or None to drop the connection without one."""
        try:
            return self.sandbox.handle(request)
        except self.drop_connection_on:
            self.close_connection = True
            return None
        except Exception:  # answer like the remote system rather than dropping the connection
            log.exception("unhandled error for %s %s", self.command, self.path)
            return self.answer_unexpected()

    def _send(self, response: Any) -> None:
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


class OAuthError(Exception):
    """A refused OAuth request: both sandboxes answer it as RFC 6749's error body."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def serve_until_interrupted(server: SandboxServer, store: Any, banner: list[str], out: Any) -> None:
    """Print where the sandbox listens, serve until Ctrl-C / SIGTERM, then close its state."""
    for line in banner:
        out.write(line + "\n")
    out.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        store.close()
