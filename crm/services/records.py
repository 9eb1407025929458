"""Record writes: create, update, upsert (single or bulk), archive, restore, purge.

One write path serves every caller: inputs are validated and coerced against the object type's
schema first (record_planning; nothing is written if any input is refused, unless the caller
asks for partial writes), then written set-wise (record_apply) with one audit event per changed
record and one change-hook call per group of records that changed the same properties.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from crm import sources
from crm.errors import BatchValidationError, CrmError, RecordValidationError
from crm.gc_pause import collector_paused
from crm.models import ObjectType, Record
from crm.schema import load_schema_for_write
from crm.services.record_apply import apply_plan, audit_and_announce
from crm.services.record_planning import (
    Action,
    ItemResult,
    Mode,
    check_id_property,
    plan_writes,
)
from crm.services.record_uniqueness import (
    existing_unique_values,
    lock_unique_values,
    unique_names,
)


@dataclass(frozen=True, slots=True)
class RecordInput:
    """One record to write: its properties, and for updates its id."""

    properties: Mapping[str, object]
    id: int | None = None
    # Properties whose values are moved over from other records (a merge fills the winner's
    # blanks from the losers), not newly chosen: an owner carried this way is an existing
    # assignment and is kept even when that owner is inactive.
    carried: frozenset[str] = frozenset()


@dataclass(slots=True)
class WriteResult:
    """The outcome of a batch: one ItemResult per input, in input order."""

    items: list[ItemResult]

    @property
    def ids(self) -> list[int]:
        return [item.id for item in self.items if item.id is not None]

    def count(self, action: Action) -> int:
        return sum(1 for item in self.items if item.action == action)


def create_record(
    *, object_type: ObjectType, properties: Mapping[str, object], actor=None, source: str
) -> Record:
    """Create one record; raises RecordValidationError naming each bad property."""
    result = _write_one(object_type, RecordInput(properties=properties), "create", actor, source)
    return Record.objects.select_related("object_type").get(pk=result.id)


def update_record(
    *,
    record: Record,
    properties: Mapping[str, object],
    actor=None,
    source: str,
    carried: Collection[str] = (),
) -> Record:
    """Update some properties of one record (a None or "" value clears a property).

    `carried` names properties whose values come from other records (see RecordInput)."""
    _write_one(
        record.object_type,
        RecordInput(properties=properties, id=record.pk, carried=frozenset(carried)),
        "update",
        actor,
        source,
    )
    record.refresh_from_db(fields=["properties", "property_changes", "updated_at"])
    return record


def write_records(
    *,
    object_type: ObjectType,
    inputs: Sequence[RecordInput],
    mode: Mode,
    id_property: str | None = None,
    actor=None,
    source: str,
    all_or_none: bool = True,
    dry_run: bool = False,
    locked_properties: Mapping[int, dict] | None = None,
    values_coerced: bool = False,
) -> WriteResult:
    """Create, update or upsert many records of one object type.

    Upserts match existing records by `id` or, with `id_property`, by that unique property
    (e.g. email). With `all_or_none` any invalid input refuses the whole batch
    (BatchValidationError); without it the valid inputs are written and the others reported.
    With `dry_run` nothing is written: forms use it to show every error before saving.
    `locked_properties` ({id: properties} of active records the caller read with a row lock
    in its open transaction, as a restore does to save what it replaces) spares updates by id
    reading those records again; ids not in it are read and locked as usual.
    `values_coerced` says the inputs' values are already in their stored form: the caller
    coerced every one with crm.values.coerce_value against the schema it loaded with
    load_schema_for_write in the same open transaction (a restore does, to compare them with
    today's). They are checked as usual (known, writable, permitted, unique) but not coerced
    a second time; a value that failed the caller's coercion must not be passed this way.
    """
    sources.validate_source(source)
    with transaction.atomic(), collector_paused():
        schema = load_schema_for_write(object_type)
        if id_property is not None:
            check_id_property(schema, id_property)
        plan = plan_writes(
            schema,
            inputs,
            mode,
            id_property,
            actor,
            source,
            locked_properties=locked_properties,
            values_coerced=values_coerced,
        )
        failed = {item.index: item.errors for item in plan.items if item.errors}
        if failed and all_or_none:
            raise BatchValidationError(failed)
        if not dry_run:
            apply_plan(schema, plan, actor, source)
    return WriteResult(items=plan.items)


def archive_records(
    *,
    object_type: ObjectType,
    record_ids: Sequence[int],
    actor=None,
    source: str,
    merged_into: int | None = None,
) -> int:
    """Move records to the recycle bin; they can be restored for the retention period.

    A merge archives its losers here too, with `merged_into` the winner's id.
    """
    sources.validate_source(source)
    with transaction.atomic():
        records = list(
            Record.objects.select_for_update().filter(
                object_type=object_type, pk__in=record_ids, archived_at__isnull=True
            )
        )
        if not records:
            return 0
        ids = [r.pk for r in records]
        Record.objects.filter(pk__in=ids).update(
            archived_at=timezone.now(), merged_into_id=merged_into
        )
        audit_and_announce(object_type, records, "archive", "archived", actor, source)
    return len(ids)


def restore_records(
    *, object_type: ObjectType, record_ids: Sequence[int], actor=None, source: str
) -> int:
    """Bring records back from the recycle bin, unless their unique values are taken since."""
    sources.validate_source(source)
    cutoff = timezone.now() - dt.timedelta(days=settings.CONCORD_RECYCLE_BIN_DAYS)
    with transaction.atomic():
        records = list(
            Record.objects.select_for_update().filter(
                object_type=object_type, pk__in=record_ids, archived_at__isnull=False
            )
        )
        expired = [r.pk for r in records if r.archived_at < cutoff]
        if expired:
            raise CrmError(
                f"records {_ids(expired)} were archived more than "
                f"{settings.CONCORD_RECYCLE_BIN_DAYS} days ago and cannot be restored"
            )
        schema = load_schema_for_write(object_type)
        lock_unique_values(schema)
        for name in unique_names(schema):
            values = {r.properties[name]: r for r in records if r.properties.get(name) is not None}
            taken = existing_unique_values(object_type, name, list(values), exclude_ids=())
            for value, holder in taken.items():
                raise CrmError(
                    f"cannot restore record {values[value].pk}: record {holder} "
                    f"already has {name} {value!r}"
                )
        ids = [r.pk for r in records]
        # A restored loser of a merge stands on its own again.
        Record.objects.filter(pk__in=ids).update(
            archived_at=None, merged_into_id=None, updated_at=timezone.now()
        )
        audit_and_announce(object_type, records, "restore", "restored", actor, source)
    return len(ids)


def purge_expired_records(*, now: dt.datetime | None = None, batch_size: int = 5000) -> int:
    """Delete records that have been in the recycle bin longer than the retention period."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=settings.CONCORD_RECYCLE_BIN_DAYS)
    purged = 0
    while True:
        with transaction.atomic():
            batch = list(
                Record.objects.select_related("object_type")
                .filter(archived_at__lt=cutoff)
                .order_by("pk")[:batch_size]
            )
            if not batch:
                return purged
            by_type: dict[int, list[Record]] = defaultdict(list)
            for record in batch:
                by_type[record.object_type_id].append(record)
            for records in by_type.values():
                audit_and_announce(
                    records[0].object_type, records, "purge", "purged", None, sources.SYSTEM
                )
            Record.objects.filter(pk__in=[r.pk for r in batch]).delete()
            purged += len(batch)


def _write_one(object_type, record_input, mode, actor, source) -> ItemResult:
    try:
        result = write_records(
            object_type=object_type, inputs=[record_input], mode=mode, actor=actor, source=source
        )
    except BatchValidationError as exc:
        raise RecordValidationError(exc.errors[0]) from None
    return result.items[0]


def _ids(ids: Sequence[int]) -> str:
    return ", ".join(str(i) for i in ids[:10]) + (" …" if len(ids) > 10 else "")
