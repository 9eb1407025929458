"""Connect the local Salesforce sandbox's default org (for `make demo`); safe to run twice."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from syncengine.connectors.base import ConnectorError
from syncengine.engine.cycles import start_cycle
from syncengine.management.sandbox_connect import connect_sandbox_org


class Command(BaseCommand):
    help = "Connect Concord to the local Salesforce sandbox with its default org's user."

    def add_arguments(self, parser):
        parser.add_argument("--instance-url", default="https://127.0.0.1:8443")
        parser.add_argument("--ca-file", default="var/sandbox/salesforce-ca.pem")
        parser.add_argument("--username", default="integration@example.com")
        parser.add_argument("--password", default="sandbox")
        parser.add_argument("--client-id", default="concord")
        parser.add_argument("--client-secret", default="sandbox-secret")
        parser.add_argument("--name", default="Salesforce sandbox")
        parser.add_argument(
            "--wait", type=float, default=30.0, help="Seconds to wait for the sandbox to come up."
        )
        parser.add_argument("--sync", action="store_true", help="Queue a first sync cycle.")

    def handle(self, *args, **options):
        deadline = time.monotonic() + options["wait"]
        while True:
            try:
                integration = connect_sandbox_org(
                    login_url=options["instance_url"],
                    client_id=options["client_id"],
                    client_secret=options["client_secret"],
                    username=options["username"],
                    password=options["password"],
                    ca_file=options["ca_file"],
                    name=options["name"],
                )
                break
            except (ConnectorError, OSError) as exc:
                if time.monotonic() > deadline:
                    raise CommandError(
                        f"cannot connect to {options['instance_url']}: {exc}"
                    ) from exc
                time.sleep(1)
        self.stdout.write(
            f"Connected {integration} (id {integration.pk}, org {integration.remote_org_id})."
        )
        if options["sync"]:
            cycle, created = start_cycle(integration=integration, trigger="manual")
            self.stdout.write(f"Sync cycle {cycle.pk} {'queued' if created else 'already active'}.")
