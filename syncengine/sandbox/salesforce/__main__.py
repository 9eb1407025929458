"""``python -m syncengine.sandbox.salesforce --port 8443 [--org FILE] [--state FILE] ...``"""

from __future__ import annotations

import argparse
import signal
import sys

from .server import serve


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Run the local Salesforce sandbox (HTTPS).")
    parser.add_argument("--port", type=int, default=8443, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--org", help="org definition file (YAML or JSON)")
    parser.add_argument(
        "--state", help="SQLite state file (default var/sandbox/salesforce.sqlite3)"
    )
    parser.add_argument("--ca-dir", help="where the CA and server certificate live")
    parser.add_argument("--seed", type=int, help="seed for injected faults (reproducible runs)")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    # SIGTERM ends the server like Ctrl-C, so a test fixture can stop it cleanly.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    serve(
        host=args.host,
        port=args.port,
        org_file=args.org,
        state=args.state,
        ca_dir=args.ca_dir,
        seed=args.seed,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
