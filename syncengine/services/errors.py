"""Sync errors: recorded once per natural key (repeats update it), resolved when records sync.

Every write that changes whether an error is current (open or resyncing) or which records it
affects also adjusts the health cards' counts (SyncErrorCount) in the same transaction, so the
health page reads eight rows instead of counting a million errors. Locks are taken in one order:
the errors (by id), then the count rows (by integration, category); the per-record refcounts of a
card are only written while its count row is locked.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from itertools import islice

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from crm.hooks import RecordsChanged
from syncengine.models import (
    Integration,
    SyncError,
    SyncErrorAffectedRecord,
    SyncErrorCount,
    SyncErrorRecordCount,
)

CURRENT = (SyncError.Status.OPEN, SyncError.Status.RESYNCING)
BATCH = 500  # ids per IN list: well within SQLite's limit of bound parameters

CardKey = tuple[int, str]  # (integration id, category)


def _batched(values: Iterable, size: int = BATCH) -> Iterator[list]:
    it = iter(values)
    while chunk := list(islice(it, size)):
        yield chunk


def error_key(*parts: object) -> str:
    """The natural key of an error: what failed, where, on which record or remote id."""
    return hashlib.sha256("\x1f".join(str(p or "") for p in parts).encode()).hexdigest()


class _CardChanges:
    """Changes to the card counts collected during one write, applied at its end."""

    def __init__(self) -> None:
        self.errors: Counter[CardKey] = Counter()
        self.records: defaultdict[CardKey, Counter[int]] = defaultdict(Counter)

    def add(
        self, key: CardKey, *, sign: int, record_ids: Iterable[int], error: bool = True
    ) -> None:
        """One error of this card becomes current (+1) or stops being current (-1)."""
        if error:
            self.errors[key] += sign
        for record_id in record_ids:
            self.records[key][record_id] += sign

    def apply(self) -> None:
        keys = sorted(
            k for k in set(self.errors) | set(self.records) if self.errors[k] or self.records[k]
        )
        if not keys:
            return
        rows = _lock_cards(keys)
        for key in keys:
            row = rows[key]
            affected = _apply_record_changes(key, self.records.get(key, Counter()))
            row.errors = max(0, row.errors + self.errors[key])
            row.affected_records = max(0, row.affected_records + affected)
            row.save(update_fields=["errors", "affected_records"])


def _lock_cards(keys: Sequence[CardKey]) -> dict[CardKey, SyncErrorCount]:
    """Lock the count rows of these cards (sorted keys), creating the missing ones."""
    which = Q()
    for integration_id, category in keys:
        which |= Q(integration_id=integration_id, category=category)

    def select(locked: bool) -> dict[CardKey, SyncErrorCount]:
        queryset = SyncErrorCount.objects.filter(which).order_by("integration_id", "category")
        if locked:
            queryset = queryset.select_for_update()
        return {(r.integration_id, r.category): r for r in queryset}

    if len(select(locked=False)) == len(keys):
        return select(locked=True)
    # A card seen for the first time: take (or create) the rows strictly one by one in key order,
    # so two writers never wait on each other's new rows in opposite orders.
    rows: dict[CardKey, SyncErrorCount] = {}
    for integration_id, category in keys:
        SyncErrorCount.objects.bulk_create(
            [SyncErrorCount(integration_id=integration_id, category=category)],
            ignore_conflicts=True,
        )
        rows[(integration_id, category)] = SyncErrorCount.objects.select_for_update().get(
            integration_id=integration_id, category=category
        )
    return rows


def _apply_record_changes(key: CardKey, changes: Counter[int]) -> int:
    """Adjust a card's per-record refcounts; returns the change in its distinct records."""
    integration_id, category = key
    changes = Counter({r: d for r, d in changes.items() if d})
    if not changes:
        return 0
    rows = SyncErrorRecordCount.objects.filter(integration_id=integration_id, category=category)
    held: dict[int, int] = {}
    for chunk in _batched(sorted(changes)):
        held.update(rows.filter(record_id__in=chunk).values_list("record_id", "errors"))
    new, gone, by_delta = [], [], defaultdict(list)
    for record_id, delta in sorted(changes.items()):
        if record_id not in held:
            if delta > 0:
                new.append(
                    SyncErrorRecordCount(
                        integration_id=integration_id,
                        category=category,
                        record_id=record_id,
                        errors=delta,
                    )
                )
        elif held[record_id] + delta <= 0:
            gone.append(record_id)
        else:
            by_delta[delta].append(record_id)
    SyncErrorRecordCount.objects.bulk_create(new, batch_size=BATCH)
    for chunk in _batched(gone):
        rows.filter(record_id__in=chunk).delete()
    for delta, record_ids in by_delta.items():
        for chunk in _batched(record_ids):
            rows.filter(record_id__in=chunk).update(errors=F("errors") + delta)
    return len(new) - len(gone)


def _affected_by(error_ids: Sequence[int]) -> dict[int, list[int]]:
    """The affected record ids of each error."""
    affected: dict[int, list[int]] = defaultdict(list)
    for chunk in _batched(error_ids):
        rows = SyncErrorAffectedRecord.objects.filter(error_id__in=chunk).values_list(
            "error_id", "record_id"
        )
        for error_id, record_id in rows:
            affected[error_id].append(record_id)
    return affected


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
    affected = set(affected_record_ids)
    changes = _CardChanges()
    card = (integration.pk, category)  # the category is part of the key: it never changes
    with transaction.atomic():
        error, created = _lock_or_create_error(
            integration=integration, key=key, values=values, now=now
        )
        if created:
            changes.add(card, sign=1, record_ids=affected)
        else:
            affected -= _count_again(
                error=error, values=values, now=now, affected=affected, changes=changes, card=card
            )
        if affected:
            SyncErrorAffectedRecord.objects.bulk_create(
                [SyncErrorAffectedRecord(error_id=error.pk, record_id=pk) for pk in affected],
                ignore_conflicts=True,
                batch_size=BATCH,
            )
        changes.apply()
        error = SyncError.objects.get(pk=error.pk)
    return error


def _lock_or_create_error(
    *, integration: Integration, key: str, values: dict, now: datetime
) -> tuple[SyncError, bool]:
    """Lock the error with this natural key, creating it if new; says whether it was created."""
    errors = SyncError.objects.select_for_update().filter(integration=integration, key=key)
    error = errors.only("pk", "status").first()
    if error is not None:
        return error, False
    try:
        with transaction.atomic():
            error = SyncError.objects.create(
                integration=integration,
                key=key,
                first_seen_at=now,
                last_seen_at=now,
                **values,
            )
        return error, True
    except IntegrityError:  # a concurrent writer created it first
        return errors.only("pk", "status").get(), False


def _count_again(
    *,
    error: SyncError,
    values: dict,
    now: datetime,
    affected: set[int],
    changes: _CardChanges,
    card: CardKey,
) -> set[int]:
    """Re-open a known error and count what is new to its card; returns its known records."""
    SyncError.objects.filter(pk=error.pk).update(
        **values,
        last_seen_at=now,
        occurrences=F("occurrences") + 1,
        status=SyncError.Status.OPEN,
        resolved_at=None,
    )
    rows = SyncErrorAffectedRecord.objects.filter(error_id=error.pk)
    if error.status in CURRENT:
        # Still current: only records it did not affect yet are new to the card.
        known = set()
        for chunk in _batched(sorted(affected)):
            known.update(rows.filter(record_id__in=chunk).values_list("record_id", flat=True))
        changes.add(card, sign=1, record_ids=affected - known, error=False)
    else:
        # Re-opened: its records count again, with any new ones.
        known = set(rows.values_list("record_id", flat=True))
        changes.add(card, sign=1, record_ids=known | affected)
    return known


def _resolve(queryset: QuerySet[SyncError]) -> int:
    """Resolve the current errors of the queryset and take them off the cards."""
    with transaction.atomic():
        rows = list(
            queryset.filter(status__in=CURRENT)
            .select_for_update()
            .order_by("pk")
            .values_list("pk", "integration_id", "category")
        )
        if not rows:
            return 0
        ids = [pk for pk, _, _ in rows]
        affected = _affected_by(ids)
        changes = _CardChanges()
        for pk, integration_id, category in rows:
            changes.add((integration_id, category), sign=-1, record_ids=affected.get(pk, ()))
        now = timezone.now()
        for chunk in _batched(ids):
            SyncError.objects.filter(pk__in=chunk).update(
                status=SyncError.Status.RESOLVED, resolved_at=now
            )
        changes.apply()
    return len(rows)


def resolve_record_errors(
    *, integration: Integration, record_ids: Iterable[int], direction: str | None = None
) -> int:
    """A record synced: its own errors resolve, and so do errors that blocked on it (H-6)."""
    ids = list(record_ids)
    if not ids:
        return 0
    queryset = SyncError.objects.filter(integration=integration, record_id__in=ids)
    if direction:
        queryset = queryset.filter(direction=direction)
    return _resolve(queryset)


def resolve_errors(*, integration: Integration, keys: Iterable[str]) -> int:
    """Resolve errors by natural key (schema checks that now pass)."""
    return _resolve(SyncError.objects.filter(integration=integration, key__in=list(keys)))


def resolve_schema_errors(
    *, integration: Integration, remote_object: str, failing_fields: Iterable[str]
) -> int:
    """Schema errors of a remote object's fields that are fine now resolve themselves."""
    return _resolve(
        SyncError.objects.filter(
            integration=integration,
            direction=SyncError.Direction.SCHEMA,
            remote_object=remote_object,
        ).exclude(remote_field__in=list(failing_fields))
    )


@transaction.atomic
def delete_record_errors(*, record_ids: Iterable[int]) -> int:
    """Records are being purged: delete their own errors, and take them off other errors'
    affected records, with the cards adjusted (before the cascade would do it uncounted)."""
    ids = sorted(set(record_ids))
    if not ids:
        return 0
    error_ids: set[int] = set()
    for chunk in _batched(ids):
        error_ids.update(SyncError.objects.filter(record_id__in=chunk).values_list("pk", flat=True))
        error_ids.update(
            SyncErrorAffectedRecord.objects.filter(record_id__in=chunk).values_list(
                "error_id", flat=True
            )
        )
    errors = {}
    for chunk in _batched(sorted(error_ids)):  # in id order, chunk after chunk: no deadlock
        rows = (
            SyncError.objects.filter(pk__in=chunk)
            .select_for_update()
            .order_by("pk")
            .values_list("pk", "integration_id", "category", "status", "record_id")
        )
        errors.update({row[0]: row[1:] for row in rows})
    purged = set(ids)
    own = sorted(pk for pk, (*_, record_id) in errors.items() if record_id in purged)
    affected = _affected_by(sorted(errors))
    changes = _CardChanges()
    for pk, (integration_id, category, status, record_id) in errors.items():
        if status not in CURRENT:
            continue
        if record_id in purged:  # the whole error goes
            changes.add((integration_id, category), sign=-1, record_ids=affected.get(pk, ()))
        else:  # it stays, without the purged records
            gone = [r for r in affected.get(pk, ()) if r in purged]
            changes.add((integration_id, category), sign=-1, record_ids=gone, error=False)
    for chunk in _batched(ids):
        SyncErrorAffectedRecord.objects.filter(record_id__in=chunk).delete()
    for chunk in _batched(own):
        SyncErrorAffectedRecord.objects.filter(error_id__in=chunk).delete()
        SyncError.objects.filter(pk__in=chunk).delete()
    changes.apply()
    return len(own)


def on_records_changed(event: RecordsChanged) -> None:
    """Record hook: purged records take their errors with them, counted (inside the purge)."""
    if event.kind == "purged":
        delete_record_errors(record_ids=event.record_ids)


REBUILD_RECORDS_SQL = """
INSERT INTO {refcounts} (integration_id, category, record_id, errors)
SELECT e.integration_id, e.category, a.record_id, COUNT(*)
FROM {errors} e JOIN {affected} a ON a.error_id = e.id
WHERE e.integration_id = %s AND e.status IN (%s, %s)
GROUP BY e.integration_id, e.category, a.record_id
"""


@transaction.atomic
def rebuild_error_counts(*, integration: Integration) -> list[SyncErrorCount]:
    """Recount an integration's cards from its errors (after raw inserts, or to check drift)."""
    cards = _lock_cards([(integration.pk, c) for c in sorted(SyncError.Category.values)])
    SyncErrorRecordCount.objects.filter(integration=integration).delete()
    with connection.cursor() as cursor:
        cursor.execute(
            REBUILD_RECORDS_SQL.format(
                refcounts=SyncErrorRecordCount._meta.db_table,
                errors=SyncError._meta.db_table,
                affected=SyncErrorAffectedRecord._meta.db_table,
            ),
            [integration.pk, *CURRENT],
        )
    errors = dict(
        SyncError.objects.filter(integration=integration, status__in=CURRENT)
        .order_by()
        .values("category")
        .annotate(n=Count("*"))
        .values_list("category", "n")
    )
    records = dict(
        SyncErrorRecordCount.objects.filter(integration=integration)
        .order_by()
        .values("category")
        .annotate(n=Count("*"))
        .values_list("category", "n")
    )
    for (_, category), row in cards.items():
        row.errors, row.affected_records = errors.get(category, 0), records.get(category, 0)
        row.save(update_fields=["errors", "affected_records"])
    return sorted(cards.values(), key=lambda row: row.category)
