"""Send the demo admin's sync-error digests instantly (`make demo`); safe to run twice."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from notifications.demo import describe_mail_destination, send_digests_instantly


class Command(BaseCommand):
    help = "Switch a user's sync-error digests to 'instantly', so the demo shows one at once."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username: str, **options):
        if send_digests_instantly(username=username) is None:
            raise CommandError(f"No user {username!r}: run ensure_demo_admin first.")
        self.stdout.write(
            f"Sync-error digests of {username!r} are sent instantly, {describe_mail_destination()}."
        )
