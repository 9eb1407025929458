"""Reads of backups and restores, shaped for the admin and the API. Nothing here writes."""

from __future__ import annotations

from django.db.models import QuerySet

from backups.models import Backup, Restore
from crm.models import Property


def list_backups() -> QuerySet[Backup]:
    return Backup.objects.select_related("requested_by").order_by("-created_at", "-pk")


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
