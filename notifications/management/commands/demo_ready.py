"""Print `make demo`'s "ready" lines once the first syncs of every integration have ended."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from notifications.demo import ready_message, wait_for_first_syncs


class Command(BaseCommand):
    help = "Wait for each integration's newest sync cycle to end, then say where everything is."

    def add_arguments(self, parser):
        parser.add_argument("--wait", type=float, default=900.0, help="Seconds to wait at most.")
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password", default="admin")

    def handle(self, *args, wait: float, username: str, password: str, **options):
        unfinished = wait_for_first_syncs(timeout=wait)
        message = ready_message(unfinished=unfinished, username=username, password=password)
        self.stdout.write(message)
