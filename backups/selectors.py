"""Reads of backups and restores, shaped for the admin and the API. Nothing here writes."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet
from django.utils import timezone

from backups.models import Backup, Restore
from backups.services.writer import csv_name
from crm.models import ObjectType, Property
from crm.owners import owner_names, show_owner

# B-6: the object types a restore may write; conversations are backed up but not restorable.
NOT_RESTORABLE = frozenset({"conversations"})
# The order people expect object types in (the CRM's own menus): contacts first, activities
# after the main objects, custom objects last. A wizard preselects the first one a backup holds.
USUAL_ORDER = ("contacts", "companies", "deals", "tickets", "products", "tasks", "calls")


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
    """The plan's sample of records as rows of (property, before, after); owners by name."""
    sample = (restore.plan or {}).get("sample", [])
    owner_props = set(
        Property.objects.filter(
            object_type=restore.object_type, type=Property.Type.OWNER
        ).values_list("name", flat=True)
    )
    ids = [
        value
        for item in sample
        for name, pair in item["changes"].items()
        if name in owner_props
        for value in pair
    ]
    owners = owner_names(ids)

    def shown(name: str, value: object) -> object:
        if name not in owner_props:
            return value
        return show_owner(value, owners) or None  # None: the template's "(empty)"

    return [
        {
            "id": item["id"],
            "name": item.get("name") or f"#{item['id']}",
            "changes": [
                {"property": name, "before": shown(name, before), "after": shown(name, after)}
                for name, (before, after) in item["changes"].items()
            ],
        }
        for item in sample
    ]


def in_usual_order(object_types) -> list[ObjectType]:
    """Object types as people expect them: USUAL_ORDER, then custom ones by label."""
    rank = {name: i for i, name in enumerate(USUAL_ORDER)}
    return sorted(
        object_types,
        key=lambda ot: (rank.get(ot.name, len(rank)), ot.is_custom, ot.label_plural, ot.pk),
    )


def list_restorable_object_types(*, backup: Backup | None = None) -> list[ObjectType]:
    """Object types a restore may write, in the usual order; with `backup`, only those it holds
    records of."""
    queryset = ObjectType.objects.exclude(name__in=NOT_RESTORABLE)
    if backup is not None:
        held = [name for name, count in (backup.counts or {}).items() if count]
        queryset = queryset.filter(name__in=held)
    return in_usual_order(queryset)


def get_newest_restorable_backup(*, now: dt.datetime | None = None) -> Backup | None:
    """The newest backup a restore can read: ready and not past its expiry."""
    return list_backups(status=Backup.Status.READY, now=now).first()


def get_default_restore_source(
    *, backup: Backup | None = None, now: dt.datetime | None = None
) -> tuple[Backup | None, ObjectType | None]:
    """What the restore wizard preselects: the given backup (else the newest restorable one)
    and the first object type, in the usual order, that it holds records of."""
    backup = backup or get_newest_restorable_backup(now=now)
    if backup is None:
        return None, None
    types = list_restorable_object_types(backup=backup)
    return backup, (types[0] if types else None)


def backup_contents(*, backup: Backup) -> list[dict]:
    """The backup's files, one per object type with records, in the usual order: label, file
    name and record count (from the counts stored when it was written; the file is not read)."""
    counts = backup.counts or {}
    types = in_usual_order(ObjectType.objects.filter(name__in=list(counts)))
    labels = {ot.name: ot.label_plural for ot in types}
    names = [ot.name for ot in types] + sorted(set(counts) - set(labels))
    return [
        {
            "object_type": labels.get(name, name),
            "file": csv_name(name),
            "records": counts[name],
            "restorable": name not in NOT_RESTORABLE and name in labels,
        }
        for name in names
    ]
