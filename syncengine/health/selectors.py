"""Reads of the sync health page: usage per hour, card counts, error lists (keyset pages)."""

from __future__ import annotations

import datetime as dt
import re

from django.db.models import (
    Count,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber
from django.urls import reverse
from django.utils import timezone

from config.bounds import parse_id
from syncengine.engine.guard import delete_limit
from syncengine.health.info import info_for
from syncengine.models import (
    ApiCallBucket,
    HeldDelete,
    Integration,
    ObjectMapping,
    RecordLink,
    SyncError,
    SyncErrorAffectedRecord,
    SyncErrorCount,
)
from syncengine.selectors import get_api_usage

CURRENT = (SyncError.Status.OPEN, SyncError.Status.RESYNCING)
PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
SAMPLE_SIZE = 5
SALESFORCE_ID = re.compile(r"\b([a-zA-Z0-9]{15}|[a-zA-Z0-9]{18})\b")


def list_cards(*, integration: Integration) -> list[dict]:
    """All eight error types, in order, with current errors and affected records (even 0).

    The error service keeps these counts as it writes (rebuild_error_counts recounts them).
    """
    counts = {
        category: (errors, records)
        for category, errors, records in SyncErrorCount.objects.filter(
            integration=integration
        ).values_list("category", "errors", "affected_records")
    }
    return [
        {
            "type": value,
            "label": label,
            "errors": counts.get(value, (0, 0))[0],
            "affected_records": counts.get(value, (0, 0))[1],
        }
        for value, label in SyncError.Category.choices
    ]


def list_usage_by_hour(*, integration: Integration, now: dt.datetime | None = None) -> list[dict]:
    """API calls per hour over the last 24 hours, oldest first (24 points, zeros included)."""
    now = now or timezone.now()
    top = now.replace(minute=0, second=0, microsecond=0)
    hours = [top - dt.timedelta(hours=23 - i) for i in range(24)]
    calls = dict.fromkeys(hours, 0)
    rows = ApiCallBucket.objects.filter(integration=integration, minute__gte=hours[0]).values_list(
        "minute", "calls"
    )
    for minute, n in rows:
        hour = minute.replace(minute=0, second=0, microsecond=0)
        if hour in calls:
            calls[hour] += n
    return [{"hour": hour, "calls": n} for hour, n in calls.items()]


def get_health(*, integration: Integration) -> dict:
    """The health endpoint's body: API usage, the eight cards and held mass deletes."""
    usage = get_api_usage(integration=integration)
    return {
        "api_usage": {k: usage[k] for k in ("used_24h", "limit", "allocated")},
        "cards": list_cards(integration=integration),
        "held_deletes": list_held_deletes(integration=integration),
    }


def list_held_deletes(*, integration: Integration) -> list[dict]:
    """Held deletes per mapping and direction: count and a sample of record names.

    Two queries at most whatever the number held: the counts, then (only if any are held) the
    first few names of every group at once.
    """
    held = HeldDelete.objects.filter(integration=integration, status=HeldDelete.Status.HELD)
    groups = list(
        held.values(
            "object_mapping_id",
            "direction",
            "object_mapping__remote_object",
            "object_mapping__object_type__name",
        )
        .annotate(count=Count("*"))
        .order_by("object_mapping__sync_order", "object_mapping_id", "direction")
    )
    if not groups:
        return []
    first = held.annotate(
        n=Window(RowNumber(), partition_by=[F("object_mapping_id"), F("direction")], order_by="pk")
    ).filter(n__lte=SAMPLE_SIZE)
    samples: dict[tuple[int, str], list[str]] = {}
    for om_id, direction, label, remote_id in first.order_by("pk").values_list(
        "object_mapping_id", "direction", "label", "remote_id"
    ):
        samples.setdefault((om_id, direction), []).append(label or remote_id)
    labels = dict(HeldDelete.Direction.choices)
    return [
        {
            "object_mapping": g["object_mapping_id"],
            "object_type": g["object_mapping__object_type__name"],
            "remote_object": g["object_mapping__remote_object"],
            "direction": g["direction"],
            "direction_label": labels[g["direction"]],
            "count": g["count"],
            "sample": samples.get((g["object_mapping_id"], g["direction"]), []),
        }
        for g in groups
    ]


def list_mass_delete_thresholds(*, integration: Integration) -> list[dict]:
    """Every mapping's mass-delete share, minimum, linked records and resulting limit."""
    mappings = ObjectMapping.objects.filter(integration=integration).select_related("object_type")
    linked = {
        om_id: n
        for om_id, n in RecordLink.objects.filter(
            integration=integration, remote_id__isnull=False, remote_deleted_at__isnull=True
        )
        .values_list("object_mapping_id")
        .annotate(n=Count("*"))
        .order_by()
    }
    return [
        {
            "object_mapping": om.pk,
            "object_type": om.object_type.name,
            "remote_object": om.remote_object,
            "share": om.mass_delete_share,
            "minimum": om.mass_delete_minimum,
            "linked": linked.get(om.pk, 0),
            "limit": delete_limit(om, linked.get(om.pk, 0)),
        }
        for om in mappings
    ]


def _affected_count() -> Coalesce:
    counted = (
        SyncErrorAffectedRecord.objects.filter(error=OuterRef("pk"))
        .order_by()
        .values("error")
        .annotate(n=Count("*"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def list_errors(
    *,
    integration: Integration | int | None = None,
    category: str | None = None,
    status: str | None = None,
    record: int | None = None,
    ids: list[int] | None = None,
) -> QuerySet[SyncError]:
    """Sync errors, newest first; current (open or resyncing) unless a status is given."""
    queryset = SyncError.objects.all()
    if integration is not None:
        queryset = queryset.filter(integration=integration)
    if category:
        queryset = queryset.filter(category=category)
    # The same IN list as the partial index's condition, so PostgreSQL can use it.
    queryset = queryset.filter(status=status) if status else queryset.filter(status__in=CURRENT)
    if record is not None:
        queryset = queryset.filter(record_id=record)
    if ids is not None:
        queryset = queryset.filter(pk__in=ids)
    return queryset.order_by("-last_seen_at", "-pk")


def with_page_details(queryset: QuerySet[SyncError]) -> QuerySet[SyncError]:
    """Join what a list row shows: the record, its type, the integration, affected counts."""
    return queryset.select_related("record__object_type", "object_type", "integration").annotate(
        affected_count=_affected_count()
    )


def keyset_page(
    queryset: QuerySet[SyncError], *, after: SyncError | None, size: int = PAGE_SIZE
) -> tuple[list[SyncError], SyncError | None]:
    """One page after the given row (newest first) and the row to continue after, if any."""
    if after is not None:
        seen = after.last_seen_at
        queryset = queryset.filter(Q(last_seen_at__lt=seen) | Q(last_seen_at=seen, pk__lt=after.pk))
    rows = list(queryset[: size + 1])
    return rows[:size], (rows[size - 1] if len(rows) > size else None)


def get_cursor_row(*, cursor: str | None) -> SyncError | None:
    """The row a cursor (an error id) points at; None for no or a bad cursor."""
    pk = parse_id(str(cursor)) if cursor else None
    if pk is None:
        return None
    return SyncError.objects.only("pk", "last_seen_at").filter(pk=pk).first()


def remote_url(*, integration: Integration, remote_id: str) -> str:
    """The Salesforce record's page (instance URL + / + id)."""
    return remote_url_of(integration.instance_url, remote_id)


def remote_url_of(instance_url: str, remote_id: str) -> str:
    """`remote_url` from the integration's instance URL alone (the export reads no model)."""
    if not remote_id or not instance_url:
        return ""
    return f"{instance_url.rstrip('/')}/{remote_id}"


def duplicate_of(error: SyncError) -> dict:
    """The duplicated value and the other Salesforce record, as far as Salesforce said."""
    details = error.details or {}
    value = details.get("value")
    if value is None and error.record is not None and error.property_name:
        value = (error.record.properties or {}).get(error.property_name)
    other = details.get("duplicate_id") or ""
    if not other and "id:" in error.message:  # "duplicates value on record with id: 001…"
        match = SALESFORCE_ID.search(error.message.split("id:")[-1])
        other = match.group(1) if match else ""
    return {"value": value, "remote_id": other}


def error_row(error: SyncError) -> dict:
    """Everything a list row, the API and the export show of one error (no further queries)."""
    integration = error.integration
    record = error.record
    row = {
        "id": error.pk,
        "type": error.category,
        "label": error.get_category_display(),
        "status": error.status,
        "code": error.code,
        "message": error.message,
        "direction": error.direction,
        "record": record.pk if record else None,
        "record_label": str(record) if record else "",
        "record_type": record.object_type.name if record else "",
        "record_admin_url": reverse("admin:crm_record_change", args=[record.pk]) if record else "",
        "remote_object": error.remote_object,
        "remote_id": error.remote_id,
        "remote_url": remote_url(integration=integration, remote_id=error.remote_id),
        "remote_field": error.remote_field,
        "property": error.property_name,
        "details": error.details,
        "first_seen": error.first_seen_at,
        "last_seen": error.last_seen_at,
        "occurrences": error.occurrences,
        "affected_records": getattr(error, "affected_count", None),
    }
    if error.category == SyncError.Category.DUPLICATES:
        dup = duplicate_of(error)
        row["duplicate_value"] = dup["value"]
        row["duplicate_remote_id"] = dup["remote_id"]
        row["duplicate_remote_url"] = remote_url(
            integration=integration, remote_id=dup["remote_id"]
        )
    if error.category == SyncError.Category.ASSOCIATIONS:
        row["blocking_record"] = row["record"]
    return row


def get_error_detail(error: SyncError) -> dict:
    """One error with its type's explanation and resolution steps."""
    info = info_for(error.category, error.code)
    return {
        **error_row(error),
        "explanation": info["explanation"],
        "resolution_steps": info["steps"],
    }


def list_affected_record_ids(*, error: SyncError, limit: int = 500) -> tuple[str, list[int]]:
    """The affected records' most common object type and up to `limit` of their ids."""
    rows = (
        SyncErrorAffectedRecord.objects.filter(error=error)
        .values_list("record_id", "record__object_type__name")
        .order_by("record_id")[:limit]
    )
    by_type: dict[str, list[int]] = {}
    for record_id, type_name in rows:
        by_type.setdefault(type_name, []).append(record_id)
    if not by_type and error.record_id:
        return error.record.object_type.name, [error.record_id]
    if not by_type:
        return "", []
    type_name = max(by_type, key=lambda name: len(by_type[name]))
    return type_name, by_type[type_name]
