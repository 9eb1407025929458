"""`make demo`'s notification side: the admin's digests sent at once, and the "ready" message.

The demo's newcomer should see a digest email without waiting for 08:00, and be told where
mail goes; the ready message is printed once the first syncs of every integration have ended.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import OuterRef, Subquery, Sum

from notifications.models import Frequency
from notifications.services import update_setting
from syncengine.models import Integration, SyncCycle


def send_digests_instantly(*, username: str):
    """Make the user's sync-error digests "instantly" (for every integration); None if unknown."""
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        return None
    return update_setting(
        user=user,
        changes={"sync_errors_enabled": True, "sync_errors_frequency": Frequency.INSTANTLY},
        integrations=[],  # no integration keeps its own (daily) choice
    )


def describe_mail_destination() -> str:
    """Where Django's configured email backend puts mail, in words a newcomer can follow."""
    backend = settings.EMAIL_BACKEND
    if backend == "django.core.mail.backends.filebased.EmailBackend":
        path = Path(settings.EMAIL_FILE_PATH)
        if path.is_relative_to(settings.BASE_DIR):  # else the absolute path
            path = path.relative_to(settings.BASE_DIR)
        return f"as files in {path}/ (one .log file per run of a sender)"
    if backend == "django.core.mail.backends.smtp.EmailBackend":
        return f"to the SMTP server at {settings.EMAIL_HOST}:{settings.EMAIL_PORT}"
    if backend == "django.core.mail.backends.console.EmailBackend":
        return "to the console of the process sending it"
    return f"through {backend}"


@dataclass(frozen=True)
class FirstSync:
    """An integration and the cycle the demo waits for (its newest when the wait began)."""

    integration_id: int
    name: str
    cycle_id: int | None


def list_awaited_syncs() -> list[FirstSync]:
    """Each integration with its newest cycle: the demo is ready once these have ended."""
    newest = SyncCycle.objects.filter(integration=OuterRef("pk")).order_by("-created_at", "-pk")
    rows = Integration.objects.annotate(cycle_id=Subquery(newest.values("pk")[:1])).order_by(
        "name", "pk"
    )
    return [FirstSync(row.pk, row.name, row.cycle_id) for row in rows]


def list_unfinished(awaited: list[FirstSync]) -> list[str]:
    """Names of the integrations whose awaited cycle has not ended (or not even been queued)."""
    ended = set(
        SyncCycle.objects.filter(pk__in=[a.cycle_id for a in awaited if a.cycle_id])
        .exclude(status__in=SyncCycle.ACTIVE)
        .values_list("pk", flat=True)
    )
    return [a.name for a in awaited if a.cycle_id not in ended]


def wait_for_first_syncs(
    *, timeout: float, poll: float = 2.0, sleep: Callable[[float], None] = time.sleep
) -> list[str]:
    """Wait until every integration's newest cycle has ended; the names still running if not."""
    awaited = {a.integration_id: a for a in list_awaited_syncs()}
    waited = 0.0
    while True:
        if any(a.cycle_id is None for a in awaited.values()):
            # An integration without a cycle when the wait began is awaited with its first one.
            for fresh in list_awaited_syncs():
                known = awaited.get(fresh.integration_id)
                if known is not None and known.cycle_id is None:
                    awaited[fresh.integration_id] = fresh
        unfinished = list_unfinished(list(awaited.values()))
        if not unfinished or waited >= timeout:
            return unfinished
        sleep(poll)
        waited += poll


def ready_message(*, unfinished: list[str], username: str, password: str) -> str:
    """The lines `make demo` prints when it is ready: admin URL, first syncs, where mail goes."""
    base = settings.CONCORD_BASE_URL.rstrip("/")
    open_errors = dict(
        Integration.objects.annotate(open=Sum("error_counts__errors")).values_list("name", "open")
    )
    lines = ["", "  Concord is ready." if not unfinished else "  Concord is up."]
    for name, count in sorted(open_errors.items()):
        state = "still syncing" if name in unfinished else "first sync done"
        lines.append(f"    {name}: {state}, {count or 0} open sync errors")
    lines += [
        f"  Admin:  {base}/admin/   login: {username} / {password}",
        f"  Mail:   {username}'s sync-error digests are sent instantly (checked every "
        f"minute), {describe_mail_destination()}",
        "  Ctrl-C stops the demo.",
        "",
    ]
    return "\n".join(lines)
