"""Sync errors: recorded once per natural key (repeats update it), resolved when records sync."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from syncengine.models import Integration, SyncError, SyncErrorAffectedRecord


def error_key(*parts: object) -> str:
    """The natural key of an error: what failed, where, on which record or remote id."""
    return hashlib.sha256("\x1f".join(str(p or "") for p in parts).encode()).hexdigest()


def record_sync_error(
    *,
    integration: Integration,
    category: str,
    code: str,
    message: str,
    direction: str = SyncError.Direction.PUSH,
    object_type_id: int | None = None,
    record_id: int | None = None,
    remote_object: str = "",
    remote_id: str = "",
    remote_field: str = "",
    property_name: str = "",
    details: dict | None = None,
    affected_record_ids: Iterable[int] = (),
) -> SyncError:
    """Open (or re-open and count again) the error with this natural key."""
    now = timezone.now()
    key = error_key(
        category,
        code,
        direction,
        record_id or remote_id,
        remote_object,
        remote_field,
        property_name,
        "" if record_id or remote_id else message,
    )
    values = {
        "category": category,
        "code": code,
        "message": message[:5000],
        "direction": direction,
        "object_type_id": object_type_id,
        "record_id": record_id,
        "remote_object": remote_object,
        "remote_id": remote_id or "",
        "remote_field": remote_field,
        "property_name": property_name,
        "details": details or {},
    }
    with transaction.atomic():
        updated = SyncError.objects.filter(integration=integration, key=key).update(
            **values,
            last_seen_at=now,
            occurrences=F("occurrences") + 1,
            status=SyncError.Status.OPEN,
            resolved_at=None,
        )
        if not updated:
            try:
                with transaction.atomic():
                    SyncError.objects.create(
                        integration=integration,
                        key=key,
                        first_seen_at=now,
                        last_seen_at=now,
                        **values,
                    )
            except IntegrityError:  # a concurrent writer created it first
                SyncError.objects.filter(integration=integration, key=key).update(
                    last_seen_at=now, occurrences=F("occurrences") + 1
                )
        error = SyncError.objects.get(integration=integration, key=key)
        affected = set(affected_record_ids)
        if affected:
            SyncErrorAffectedRecord.objects.bulk_create(
                [SyncErrorAffectedRecord(error=error, record_id=pk) for pk in affected],
                ignore_conflicts=True,
            )
    return error


def resolve_record_errors(
    *, integration: Integration, record_ids: Iterable[int], direction: str | None = None
) -> int:
    """A record synced: its own errors resolve, and so do errors that blocked on it (H-6)."""
    ids = list(record_ids)
    if not ids:
        return 0
    queryset = SyncError.objects.filter(integration=integration, record_id__in=ids).exclude(
        status=SyncError.Status.RESOLVED
    )
    if direction:
        queryset = queryset.filter(direction=direction)
    return queryset.update(status=SyncError.Status.RESOLVED, resolved_at=timezone.now())


def resolve_errors(*, integration: Integration, keys: Iterable[str]) -> int:
    """Resolve errors by natural key (schema checks that now pass)."""
    return (
        SyncError.objects.filter(integration=integration, key__in=list(keys))
        .exclude(status=SyncError.Status.RESOLVED)
        .update(status=SyncError.Status.RESOLVED, resolved_at=timezone.now())
    )
