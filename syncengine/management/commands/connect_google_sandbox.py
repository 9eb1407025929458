"""Connect the local Google People API sandbox's account (for `make demo`); safe to run twice."""

from __future__ import annotations

import time

import requests
from django.core.management.base import BaseCommand, CommandError

from syncengine.connectors.base import ConnectorError
from syncengine.engine.cycles import start_cycle
from syncengine.management.sandbox_connect import connect_sandbox_account


class Command(BaseCommand):
    help = "Connect Concord to the local Google Contacts sandbox through its consent page."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8444")
        parser.add_argument("--client-id", default="concord-sandbox.apps.googleusercontent.com")
        parser.add_argument("--client-secret", default="sandbox-secret")
        parser.add_argument("--name", default="Google Contacts sandbox")
        parser.add_argument(
            "--seed",
            type=int,
            default=0,
            help="Create this many contacts as the Google user first, if the account is empty.",
        )
        parser.add_argument(
            "--wait", type=float, default=30.0, help="Seconds to wait for the sandbox to come up."
        )
        parser.add_argument("--sync", action="store_true", help="Queue a first sync cycle.")

    def handle(self, *args, **options):
        url = options["url"].rstrip("/")
        deadline = time.monotonic() + options["wait"]
        while True:
            try:
                if options["seed"]:
                    self._seed(url, options["seed"])
                integration = connect_sandbox_account(
                    oauth_url=url,
                    client_id=options["client_id"],
                    client_secret=options["client_secret"],
                    name=options["name"],
                )
                break
            except (ConnectorError, OSError, requests.RequestException) as exc:
                if time.monotonic() > deadline:
                    raise CommandError(f"cannot connect to {url}: {exc}") from exc
                time.sleep(1)
        self.stdout.write(f"Connected {integration} (id {integration.pk}).")
        if options["sync"]:
            cycle, created = start_cycle(integration=integration, trigger="manual")
            self.stdout.write(f"Sync cycle {cycle.pk} {'queued' if created else 'already active'}.")

    def _seed(self, url: str, count: int) -> None:
        session = requests.Session()
        session.trust_env = False
        status = session.get(f"{url}/_sandbox/", timeout=10).json()
        if status["counts"]["contacts"] == 0:
            session.post(
                f"{url}/_sandbox/fill", json={"count": count, "prefix": "gmail"}, timeout=60
            ).raise_for_status()
            # The seeded contacts stand for ones the user had long before connecting: let them
            # reach Google's sync answers (which lag writes by the propagation delay) at once.
            delay = status["limits"]["propagation_delay_seconds"]
            session.post(
                f"{url}/_sandbox/clock/advance", json={"seconds": delay}, timeout=10
            ).raise_for_status()
