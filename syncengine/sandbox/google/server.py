"""HTTP server plumbing: ThreadingHTTPServer, keep-alive, and the ``serve`` entry point.

Plain HTTP: google-api-python-client takes any ``api_endpoint``, http included, so unlike the
Salesforce sandbox no certificate authority is needed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from ..http import SandboxHandler, SandboxServer, serve_until_interrupted
from .app import GoogleSandbox
from .errors import internal
from .wire import Request, Response

PROJECT_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_STATE = PROJECT_ROOT / "var" / "sandbox" / "google.sqlite3"
DEFAULT_PORT = 8444


class GoogleHandler(SandboxHandler):
    server_version = "ESF"  # Google's front end calls itself that
    sandbox: GoogleSandbox

    def parse_query(self, query: str) -> dict[str, list[str]]:
        return parse_qs(query, keep_blank_values=True)  # Google repeats parameters

    def build_request(self, **parts: Any) -> Request:
        return Request(**parts)

    def answer_unexpected(self) -> Response:
        return Response.error(internal())


def make_server(
    *, host: str = "127.0.0.1", port: int = DEFAULT_PORT, state: Path | str | None = None
) -> tuple[SandboxServer, GoogleSandbox]:
    """Build the server (not yet serving); returns it and the account runtime."""
    sandbox = GoogleSandbox(Path(state) if state else DEFAULT_STATE)
    handler = type("BoundGoogleHandler", (GoogleHandler,), {"sandbox": sandbox})
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
    banner = [
        f"Google People API sandbox listening on http://{host}:{actual_port}/",
        f"State: {sandbox.store.path}",
    ]
    serve_until_interrupted(server, sandbox.store, banner, stream)
