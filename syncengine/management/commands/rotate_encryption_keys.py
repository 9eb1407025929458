"""``python manage.py rotate_encryption_keys`` — re-encrypt stored secrets under the newest key.

To rotate: put a new key first in CONCORD_ENCRYPTION_KEYS (keep the old ones after it), restart,
run this command, then remove the old keys. Running it again changes nothing.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from syncengine.services.encryption import rotate_encryption_keys


class Command(BaseCommand):
    help = "Re-encrypt every stored secret (OAuth tokens, client secrets) under the newest key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--legacy-secret-key",
            action="store_true",
            help="also read values stored under the key earlier versions derived from "
            "DJANGO_SECRET_KEY (upgrade path; the secret key must be the one used then)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = rotate_encryption_keys(
                source="command:rotate_encryption_keys",
                legacy_secret_key=options["legacy_secret_key"],
            )
        except ImproperlyConfigured as exc:  # no keys configured: nothing to rotate to
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Re-encrypted {report.rotated} value(s) under the newest key; "
            f"{report.current} already under it; {report.empty} empty; "
            f"{len(report.unreadable)} unreadable."
        )
        if report.unreadable:
            # Exit non-zero: removing the old keys now would lose these values for good.
            raise CommandError(
                "No configured key can read: "
                + ", ".join(report.unreadable)
                + ". Keep the keys that encrypted them (or reconnect those integrations)."
            )
