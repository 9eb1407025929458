"""HTTPS server plumbing: ThreadingHTTPServer + ssl, keep-alive, and the ``serve`` entry point."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from ..http import SandboxHandler, SandboxServer, serve_until_interrupted
from .app import Dropped, SandboxOrg
from .org import load_org
from .tls import ensure_certificates, server_ssl_context
from .wire import Request, Response

PROJECT_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_STATE = PROJECT_ROOT / "var" / "sandbox" / "salesforce.sqlite3"
DEFAULT_CA_DIR = PROJECT_ROOT / "var" / "sandbox"


class SalesforceHandler(SandboxHandler):
    scheme = "https"
    drop_connection_on = (Dropped,)
    server_version = "SalesforceSandbox/1.0"
    sandbox: SandboxOrg

    def parse_query(self, query: str) -> dict[str, str]:
        return dict(parse_qsl(query, keep_blank_values=True))

    def build_request(self, **parts: Any) -> Request:
        return Request(**parts)

    def answer_unexpected(self) -> Response:
        return Response.json(
            [
                {
                    "message": "An unexpected error occurred. Please include this ErrorId "
                    "if you contact support: sandbox",
                    "errorCode": "UNKNOWN_EXCEPTION",
                }
            ],
            500,
        )


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
    handler = type("BoundSalesforceHandler", (SalesforceHandler,), {"sandbox": sandbox})
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
    banner = [
        f"Salesforce sandbox listening on https://{host}:{actual_port}",
        f"CA certificate: {ca_cert}",
        f"State: {sandbox.store.path}",
    ]
    serve_until_interrupted(server, sandbox.store, banner, stream)
