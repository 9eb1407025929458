"""HTTPS server plumbing: ThreadingHTTPServer + ssl, keep-alive, and the ``serve`` entry point."""

from __future__ import annotations

import logging
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .app import Dropped, SandboxOrg
from .org import load_org
from .tls import ensure_certificates, server_ssl_context
from .wire import Request, Response

log = logging.getLogger("salesforce_sandbox")

PROJECT_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_STATE = PROJECT_ROOT / "var" / "sandbox" / "salesforce.sqlite3"
DEFAULT_CA_DIR = PROJECT_ROOT / "var" / "sandbox"


class SandboxHandler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps TLS connections alive between calls; it matters for per-call overhead.
    protocol_version = "HTTP/1.1"
    server_version = "SalesforceSandbox/1.0"
    sandbox: SandboxOrg  # set on the subclass built by make_server

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
            params=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            base_url=f"https://{host}",
        )
        try:
            response = self.sandbox.handle(request)
        except Dropped:
            self.close_connection = True
            return
        except Exception:  # answer like Salesforce rather than dropping the connection
            log.exception("unhandled error for %s %s", self.command, self.path)
            response = Response.json(
                [
                    {
                        "message": "An unexpected error occurred. Please include this ErrorId "
                        "if you contact support: sandbox",
                        "errorCode": "UNKNOWN_EXCEPTION",
                    }
                ],
                500,
            )
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
    *,
    host: str = "127.0.0.1",
    port: int = 8443,
    org_file: Path | str | None = None,
    state: Path | str | None = None,
    ca_dir: Path | str | None = None,
    seed: int | None = None,
) -> tuple[SandboxServer, SandboxOrg, Path]:
    """Build the server (not yet serving); returns it, the org runtime and the CA cert path."""
    state_path = Path(state) if state else DEFAULT_STATE
    ca_path = Path(ca_dir) if ca_dir else DEFAULT_CA_DIR
    tls_files = ensure_certificates(ca_path, [host])
    sandbox = SandboxOrg(load_org(org_file), state_path, seed=seed)
    handler = type("BoundSandboxHandler", (SandboxHandler,), {"sandbox": sandbox})
    server = SandboxServer((host, port), handler)
    context = server_ssl_context(tls_files)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    return server, sandbox, tls_files.ca_cert


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8443,
    org_file: Path | str | None = None,
    state: Path | str | None = None,
    ca_dir: Path | str | None = None,
    seed: int | None = None,
    out: object = None,
) -> None:
    """Run the Salesforce sandbox until interrupted (Ctrl-C / SIGTERM)."""
    stream: Any = out or sys.stdout
    server, sandbox, ca_cert = make_server(
        host=host, port=port, org_file=org_file, state=state, ca_dir=ca_dir, seed=seed
    )
    actual_port = server.server_address[1]
    for line in (
        f"Salesforce sandbox listening on https://{host}:{actual_port}",
        f"CA certificate: {ca_cert}",
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
