"""Notification writes: send to users, mark read."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone

from notifications.models import Notification


def notify(
    *, users: Iterable, kind: str, title: str, body: str = "", link: str = ""
) -> list[Notification]:
    """Send one in-app notification to each of the users (each once, however often listed)."""
    seen: set[int] = set()
    rows = []
    for user in users:
        if user is None or user.pk in seen:
            continue
        seen.add(user.pk)
        rows.append(Notification(user=user, kind=kind, title=title[:200], body=body, link=link))
    return Notification.objects.bulk_create(rows)


def mark_read(*, user, notification_ids: Iterable[int] | None = None) -> int:
    """Mark the user's notifications read (all unread ones without ids); returns how many."""
    queryset = Notification.objects.filter(user=user, read_at__isnull=True)
    if notification_ids is not None:
        queryset = queryset.filter(pk__in=list(notification_ids))
    return queryset.update(read_at=timezone.now())
