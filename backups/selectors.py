"""Reads of backups and restores, shaped for the admin and the API. Nothing here writes."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet
from django.utils import timezone

from backups.models import Backup, Restore
from crm.models import Property


def list_backups(*, status: str | None = None, now: dt.datetime | None = None) -> QuerySet[Backup]:
    """Backups, newest first; with `status`, those in it at `now` (see Backup.status_at)."""
    queryset = Backup.objects.select_related("requested_by").order_by("-created_at", "-pk")
    return queryset.filter(status_filter(status, now or timezone.now())) if status else queryset


def status_filter(status: str, now: dt.datetime) -> Q:
    """Backups whose status at `now` is `status`: past expires_at a ready one is expired."""
    past = Q(status=Backup.Status.READY, expires_at__lte=now)
    if status == Backup.Status.EXPIRED:
        return Q(status=Backup.Status.EXPIRED) | past
    if status == Backup.Status.READY:
        return Q(status=Backup.Status.READY) & ~past
    return Q(status=status)


def list_restores() -> QuerySet[Restore]:
    """Restores (and rollbacks), newest first: the "imports" list."""
    return Restore.objects.select_related(
        "object_type", "requested_by", "confirmed_by", "backup"
    ).order_by("-created_at", "-pk")


def plan_rows(*, restore: Restore) -> list[dict]:
    """One row per restored property: label, name, changes, clears, invalid values."""
    labels = dict(
        Property.objects.filter(object_type=restore.object_type).values_list("name", "label")
    )
    counts = (restore.plan or {}).get("properties", {})
    return [
        {"name": name, "label": labels.get(name, name), **counts.get(name, {})}
        for name in restore.properties
    ]


def plan_sample(*, restore: Restore) -> list[dict]:
    """The plan's sample of records as rows of (property, before, after)."""
    return [
        {
            "id": item["id"],
            "name": item.get("name") or f"#{item['id']}",
            "changes": [
                {"property": name, "before": before, "after": after}
                for name, (before, after) in item["changes"].items()
            ],
        }
        for item in (restore.plan or {}).get("sample", [])
    ]
