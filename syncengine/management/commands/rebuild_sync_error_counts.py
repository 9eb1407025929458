"""``python manage.py rebuild_sync_error_counts`` — recount the sync health cards from the errors.

The error service keeps the counts as it writes; run this after rows were written around it (raw
SQL, a restore) or to check for drift: it reports every card whose count changed.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from syncengine.models import Integration, SyncErrorCount
from syncengine.services.errors import rebuild_error_counts


class Command(BaseCommand):
    help = "Recount the sync health cards (errors and affected records per type) exactly."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--integration", type=int, help="only this integration (an id)")

    def handle(self, *args: Any, **options: Any) -> None:
        integrations = Integration.objects.order_by("pk")
        if options["integration"] is not None:
            integrations = integrations.filter(pk=options["integration"])
        for integration in integrations:
            before = {
                c.category: (c.errors, c.affected_records)
                for c in SyncErrorCount.objects.filter(integration=integration)
            }
            cards = rebuild_error_counts(integration=integration)
            changed = [
                f"{c.category} {before.get(c.category, (0, 0))} -> {(c.errors, c.affected_records)}"
                for c in cards
                if before.get(c.category, (0, 0)) != (c.errors, c.affected_records)
            ]
            self.stdout.write(
                f"{integration}: {'; '.join(changed) if changed else 'counts were exact'}"
            )
