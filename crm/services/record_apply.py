"""Applying record writes set-wise: insert and update rows, audit them, call the change hook.

One statement per batch of rows (COPY-style inserts on PostgreSQL) and per set of changed
properties (an UPDATE that merges the changed values into the stored documents), one audit
event per changed record, and one change-hook call per group of records that changed the same
properties.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from django.utils import timezone

from crm import hooks
from crm.audit import record_audit_many
from crm.bulk_sql import allocate_ids, insert_rows, is_postgresql, patch_json_rows
from crm.models import ObjectType, Record, display_name
from crm.schema import Schema
from crm.services.record_planning import PlannedWrite, WritePlan

SENSITIVE_MASK = "(sensitive)"


def apply_plan(schema: Schema, plan: WritePlan, actor, source: str) -> None:
    """Write a plan's creates and updates, audit each record, then call the change hook."""
    now = timezone.now()
    stamp = {"at": now.isoformat(), "source": source}
    object_type = schema.object_type
    sensitive = {n for n, p in schema.properties.items() if p.sensitive}
    if plan.creates:
        _create(object_type, plan.creates, stamp, now, actor, source)
    if plan.updates:
        _update(object_type, plan.updates, sensitive, stamp, now, actor, source)
    for kind, group in (("created", plan.creates), ("updated", plan.updates)):
        by_changed: dict[frozenset[str], list[int]] = defaultdict(list)
        for p in group:
            by_changed[p.changed].append(p.item.id)
        for changed, ids in by_changed.items():
            hooks.emit_records_changed(
                hooks.RecordsChanged(
                    object_type=object_type,
                    record_ids=tuple(ids),
                    changed_properties=changed,
                    source=source,
                    kind=kind,
                )
            )


def audit_and_announce(
    object_type: ObjectType,
    records: Sequence[Record],
    verb: str,
    kind: hooks.RecordChangeKind,
    actor,
    source: str,
) -> None:
    """Audit a change of records' state (not values) and tell the hook's listeners."""
    record_audit_many(
        verb=verb,
        source=source,
        actor=actor,
        object_type=object_type,
        targets=[(r.pk, display_name(object_type, r.properties), {}) for r in records],
    )
    hooks.emit_records_changed(
        hooks.RecordsChanged(
            object_type=object_type,
            record_ids=tuple(r.pk for r in records),
            changed_properties=frozenset(),
            source=source,
            kind=kind,
        )
    )


def _create(
    object_type: ObjectType, creates: list[PlannedWrite], stamp: dict, now, actor, source: str
) -> None:
    rows = []
    for p in creates:
        changes = dict.fromkeys(p.new_properties, stamp)
        rows.append((p.new_properties, changes))
    ids = _insert_records(object_type, rows, now)
    for p, pk in zip(creates, ids, strict=True):
        p.item.id = pk
    record_audit_many(
        verb="create",
        source=source,
        actor=actor,
        object_type=object_type,
        targets=[
            (
                p.item.id,
                display_name(object_type, p.new_properties),
                {"properties": sorted(p.new_properties)},
            )
            for p in creates
        ],
    )


def _update(
    object_type: ObjectType,
    updates: list[PlannedWrite],
    sensitive: set[str],
    stamp: dict,
    now,
    actor,
    source: str,
) -> None:
    # One statement per set of changed properties: every record of a set gets the same change
    # stamps, and only the changed values travel (the database merges them into the stored
    # documents of the rows planning locked).
    by_changed: dict[frozenset[str], list[tuple[int, dict, list[str]]]] = defaultdict(list)
    audited = []
    for p in updates:
        values, before = p.values, p.existing.properties
        names = sorted(p.changed)
        patch = {name: values[name] for name in names if values[name] is not None}
        cleared = [name for name in names if values[name] is None]
        by_changed[p.changed].append((p.existing.pk, patch, cleared))
        diff = {
            name: masked_change(before.get(name), values[name], name in sensitive) for name in names
        }
        audited.append((p.existing.pk, p.new_properties, diff))
    for changed, rows in by_changed.items():
        patch_json_rows(Record, rows, changes=dict.fromkeys(changed, stamp), updated_at=now)
    audit_updates(object_type, audited, actor, source)


def _insert_records(object_type: ObjectType, rows: list[tuple[dict, dict]], now) -> list[int]:
    if is_postgresql():
        ids = allocate_ids(Record, len(rows))
        insert_rows(
            Record,
            ["id", "object_type_id", "properties", "property_changes", "created_at", "updated_at"],
            [
                (pk, object_type.pk, props, changes, now, now)
                for pk, (props, changes) in zip(ids, rows, strict=True)
            ],
            json_columns={"properties", "property_changes"},
        )
        return ids
    records = [
        Record(
            object_type=object_type,
            properties=props,
            property_changes=changes,
            created_at=now,
            updated_at=now,
        )
        for props, changes in rows
    ]
    Record.objects.bulk_create(records, batch_size=500)
    return [r.pk for r in records]


def masked_change(before: object, after: object, sensitive: bool) -> list:
    """One property's change as the audit keeps it: [before, after], masked when sensitive."""
    return [SENSITIVE_MASK, SENSITIVE_MASK] if sensitive else [before, after]


def audit_updates(
    object_type: ObjectType,
    updates: Iterable[tuple[int, dict, dict[str, list]]],
    actor,
    source: str,
) -> None:
    """One "update" audit event per (record id, its properties now, its changed values)."""
    record_audit_many(
        verb="update",
        source=source,
        actor=actor,
        object_type=object_type,
        targets=[
            (pk, display_name(object_type, properties), {"changes": changes})
            for pk, properties, changes in updates
        ],
    )
