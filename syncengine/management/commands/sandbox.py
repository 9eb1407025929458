"""``python manage.py sandbox salesforce|google`` — run a local stand-in for a remote system.

The sandboxes import nothing from Concord; this command only parses options and hands over.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

KINDS = ["salesforce", "google"]
DEFAULT_PORTS = {"salesforce": 8443, "google": 8444}


class Command(BaseCommand):
    help = "Run a local sandbox of a remote system (Salesforce, Google) until interrupted."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=KINDS)
        parser.add_argument(
            "--port", type=int, help="default 8443 (salesforce), 8444 (google); 0 picks a free port"
        )
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--org", help="org definition file (YAML or JSON; salesforce)")
        parser.add_argument("--state", help="SQLite state file")
        parser.add_argument(
            "--ca-dir", help="directory of the CA and server certificate (salesforce)"
        )
        parser.add_argument("--seed", type=int, help="seed for injected faults (salesforce)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["port"] is None:
            options["port"] = DEFAULT_PORTS[options["kind"]]
        if options["kind"] == "salesforce":
            self._run_salesforce(options)
        elif options["kind"] == "google":
            self._run_google(options)

    @staticmethod
    def _sandbox_dir() -> Path:
        return Path(getattr(settings, "VAR_DIR", Path(settings.BASE_DIR) / "var")) / "sandbox"

    def _run_salesforce(self, options: dict[str, Any]) -> None:
        from syncengine.sandbox.salesforce import serve

        sandbox_dir = self._sandbox_dir()
        state = options["state"] or sandbox_dir / "salesforce.sqlite3"
        serve(
            host=options["host"],
            port=options["port"],
            org_file=options["org"],
            state=state,
            ca_dir=options["ca_dir"] or sandbox_dir,
            seed=options["seed"],
            out=self.stdout,
        )

    def _run_google(self, options: dict[str, Any]) -> None:
        from syncengine.sandbox.google import serve

        serve(
            host=options["host"],
            port=options["port"],
            state=options["state"] or self._sandbox_dir() / "google.sqlite3",
            out=self.stdout,
        )
