"""``python -m syncengine.sandbox.google --port 8444 [--state FILE] [--host 127.0.0.1]``"""

from __future__ import annotations

import argparse
import signal
import sys

from .server import DEFAULT_PORT, serve


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Run the local Google People API sandbox.")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--state", help="SQLite state file (default var/sandbox/google.sqlite3)")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    # SIGTERM ends the server like Ctrl-C, so a test fixture can stop it cleanly.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    serve(host=args.host, port=args.port, state=args.state)


if __name__ == "__main__":
    main(sys.argv[1:])
