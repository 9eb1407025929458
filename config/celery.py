"""The Celery app. Tasks are thin wrappers around services (see STYLE.md)."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("concord")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.import_modules.connect
def refuse_to_start_if_misconfigured(sender: Any = None, **kwargs: Any) -> None:
    """The worker and beat stop before their first task on missing or public secrets.

    Celery's Django fixup runs the system checks at worker start but ignores what they find.
    `import_modules` is sent as a worker or beat initialises, before beat's scheduler opens the
    database, and it is the one signal whose receivers' exceptions Celery re-raises.
    """
    import django

    from config.security import refuse_to_start_if_misconfigured as refuse

    django.setup()
    refuse("Celery worker or beat")
