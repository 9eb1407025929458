"""``python manage.py sandbox salesforce --port 8443`` — run a local stand-in for a remote system.

The sandboxes import nothing from Concord; this command only parses options and hands over.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

KINDS = ["salesforce"]  # "google" joins here when the People API sandbox exists


class Command(BaseCommand):
    help = "Run a local sandbox of a remote system (Salesforce) until interrupted."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=KINDS)
        parser.add_argument("--port", type=int, default=8443, help="0 picks a free port")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--org", help="org definition file (YAML or JSON)")
        parser.add_argument("--state", help="SQLite state file")
        parser.add_argument("--ca-dir", help="directory of the CA and server certificate")
        parser.add_argument("--seed", type=int, help="seed for injected faults")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["kind"] == "salesforce":
            self._run_salesforce(options)

    def _run_salesforce(self, options: dict[str, Any]) -> None:
        from syncengine.sandbox.salesforce import serve

        sandbox_dir = (
            Path(getattr(settings, "VAR_DIR", Path(settings.BASE_DIR) / "var")) / "sandbox"
        )
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
