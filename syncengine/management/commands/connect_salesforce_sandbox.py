"""Connect the local Salesforce sandbox's default org (for `make demo`); safe to run twice."""

from __future__ import annotations

import time

import requests
from django.core.management.base import BaseCommand, CommandError

from crm.models import Owner
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
        parser.add_argument(
            "--team",
            action="store_true",
            help="Give each active Concord owner a Salesforce user in the sandbox org first (as "
            "an admin sets up the sales team in Setup), so the records they own can be pushed.",
        )

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
        if options["team"]:
            added = _add_team(options["instance_url"], options["ca_file"])
            self.stdout.write(f"Added {added} Salesforce user(s) for Concord's owners.")
        if options["sync"]:
            cycle, created = start_cycle(integration=integration, trigger="manual")
            self.stdout.write(f"Sync cycle {cycle.pk} {'queued' if created else 'already active'}.")


def _add_team(instance_url: str, ca_file: str) -> int:
    """A sandbox user (no login) for each active owner; one already added is refused as a
    duplicate username and left as it is (the command is safe to run twice)."""
    session = requests.Session()
    session.verify, session.trust_env = ca_file, False
    control = f"{instance_url.rstrip('/')}/_sandbox/records/User"
    added = 0
    for owner in Owner.objects.filter(is_active=True).order_by("pk"):
        first, _, last = owner.name.rpartition(" ")
        response = session.post(
            control,
            json={"Username": owner.email, "FirstName": first, "LastName": last or owner.name,
                  "Email": owner.email, "IsActive": True},
            timeout=30,
        )  # fmt: skip
        if response.status_code == 201:
            added += 1
        elif "DUPLICATE_VALUE" not in response.text:
            response.raise_for_status()
    return added
