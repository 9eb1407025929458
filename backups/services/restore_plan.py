"""Restore planning: compare a backup's values with today's, count changes, write nothing else.

A plan answers, before anything is written: per property, how many records will get a different
value and how many will be cleared (empty in the backup); how many records of the backup no longer
exist (deleted or in the recycle bin: a restore does not bring them back); and a sample of
before → after values. Apply (restore_apply) walks the same rows with the same comparison.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice

from django.db import transaction
from django.utils import timezone

from backups.errors import BackupError
from backups.models import Backup, Restore, RestoreSavedValue
from backups.selectors import NOT_RESTORABLE
from backups.services.backups import open_backup_file
from backups.services.writer import NEUTRALISED_MARK, csv_name
from crm import sources
from crm.audit import record_audit
from crm.csv_writer import restore_cell
from crm.models import ObjectType, Property, Record
from crm.owners import active_owner_ids, owner_refusal
from crm.schema import Schema, load_schema
from crm.services.record_uniqueness import active_records_by_id
from crm.values import InvalidValue, coerce_value

SAMPLE_SIZE = 10
BATCH_SIZE = 2000

SourceRow = tuple[int, dict[str, object]]


def backup_columns(*, backup: Backup, object_type_name: str) -> list[str]:
    """The property names of one object type's CSV in the backup (without id and timestamps)."""
    with open_backup_file(backup=backup) as file, zipfile.ZipFile(file) as archive:
        try:
            raw = archive.open(csv_name(object_type_name))
        except KeyError:
            return []
        with raw:
            header = next(csv.reader(io.TextIOWrapper(raw, encoding="utf-8", newline="")))
    return header[3:]


def is_restorable(prop: Property) -> bool:
    """May a restore write this property? Not a read-only one: Concord computes those (a sync
    property copies its source's value, others are set by Concord itself), so a restored value
    would be overwritten at once or contradict what they are computed from."""
    return not (prop.read_only or prop.is_sync)


def check_writable(*, object_type: ObjectType, names: Sequence[str]) -> None:
    """Refuse (BackupError) a restore of read-only properties, naming them."""
    schema = load_schema(object_type)
    refused = [
        name
        for name in names
        if name in schema.properties and not is_restorable(schema.properties[name])
    ]
    if refused:
        raise BackupError(
            f"Read-only properties cannot be restored: {', '.join(refused)} (Concord computes "
            "their values; a sync property, for one, copies its source's). Nothing was changed.",
            field="properties",
        )


def restorable_properties(*, backup: Backup, object_type: ObjectType) -> list[str]:
    """Properties in the backup's CSV that exist today and may be written, in backup order."""
    schema = load_schema(object_type)
    columns = backup_columns(backup=backup, object_type_name=object_type.name)
    return [
        name
        for name in columns
        if name in schema.properties and is_restorable(schema.properties[name])
    ]


def iter_backup_rows(
    *, backup: Backup, object_type_name: str, properties: Sequence[str]
) -> Iterator[SourceRow]:
    """Stream (record id, {property: CSV text}) from the backup, in record id order."""
    with (
        open_backup_file(backup=backup) as file,
        zipfile.ZipFile(file) as archive,
        archive.open(csv_name(object_type_name)) as raw,
    ):
        # The writer neutralised formula-like text (see writer.NEUTRALISED_MARK): undo exactly
        # that, so the restore writes back the stored values, not their spreadsheet-safe form.
        cell = restore_cell if archive.comment == NEUTRALISED_MARK else str
        reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8", newline=""))
        header = next(reader)
        positions = [(name, header.index(name)) for name in properties]
        for row in reader:
            yield int(row[0]), {name: cell(row[i]) for name, i in positions}


def iter_source_rows(restore: Restore, *, after_id: int = 0) -> Iterator[SourceRow]:
    """The values a restore writes back: the backup's, or for a rollback those it replaced."""
    if restore.rollback_of_id is not None:
        saved = (
            RestoreSavedValue.objects.filter(
                restore_id=restore.rollback_of_id, record_id__gt=after_id
            )
            .order_by("record_id")
            .values_list("record_id", "values")
            .iterator(chunk_size=BATCH_SIZE)
        )
        yield from saved
        return
    rows = iter_backup_rows(
        backup=restore.backup,
        object_type_name=restore.object_type.name,
        properties=restore.properties,
    )
    for record_id, values in rows:
        if record_id > after_id:
            yield record_id, values


def batched(rows: Iterable[SourceRow], size: int) -> Iterator[list[SourceRow]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


@dataclass(slots=True)
class RecordDiff:
    """What restoring one record changes: {property: (today's value, the restored value)}."""

    record_id: int
    changes: dict[str, tuple[object, object]]
    raw: dict[str, object]  # the source values of the changed properties, as written back
    invalid: list[str] = field(default_factory=list)
    # Why each invalid value will be refused, in the record services' words.
    reasons: dict[str, str] = field(default_factory=dict)


def diff_records(
    schema: Schema, properties: Sequence[str], batch: list[SourceRow], current: dict[int, dict]
) -> tuple[list[RecordDiff], int]:
    """Compare source rows with today's values; returns the differing records and how many of
    the rows have no active record today."""
    diffs: list[RecordDiff] = []
    missing = 0
    for record_id, values in batch:
        today = current.get(record_id)
        if today is None:
            missing += 1
            continue
        diff = RecordDiff(record_id=record_id, changes={}, raw={})
        for name in properties:
            if name not in values:
                continue
            raw = values[name]
            try:
                restored = coerce_value(schema.specs[name], raw)
            except InvalidValue as exc:
                # Valid when backed up but not today (say, an option since removed): counted as
                # a change the record services will refuse and report.
                diff.invalid.append(name)
                diff.reasons[name] = str(exc)
                restored = raw
            before = today.get(name)
            if restored != before:
                diff.changes[name] = (before, restored)
                diff.raw[name] = raw
        if diff.changes:
            diffs.append(diff)
    _flag_gone_owners(schema, diffs)
    return diffs, missing


def _flag_gone_owners(schema: Schema, diffs: list[RecordDiff]) -> None:
    """Mark owner values naming an owner deactivated (or gone) since: one query per batch.

    The record services refuse them when the restore runs; the plan says so beforehand.
    """
    names = {n for n, p in schema.properties.items() if p.type == Property.Type.OWNER}
    restored = [
        (diff, name, after)
        for diff in diffs
        for name, (_, after) in diff.changes.items()
        if name in names and name not in diff.invalid and after is not None
    ]
    if not restored:
        return
    active = active_owner_ids(after for _, _, after in restored)
    for diff, name, after in restored:
        if after not in active:
            diff.invalid.append(name)
            diff.reasons[name] = owner_refusal(after)


def current_values(object_type: ObjectType, ids: Sequence[int], *, lock: bool = False) -> dict:
    """{id: properties} of the active records among `ids` (locked for the apply)."""
    return active_records_by_id(object_type, ids, lock=lock)


def compute_plan(restore: Restore) -> dict:
    """Count, per property, the values a restore would change and clear, without writing."""
    object_type = restore.object_type
    schema = load_schema(object_type)
    properties = list(restore.properties)
    per_property = {name: {"change": 0, "clear": 0, "invalid": 0} for name in properties}
    plan = {
        "records": 0,
        "changing_records": 0,
        "missing": 0,
        "missing_sample": [],
        "sample": [],
        # Values the restore will refuse, with the reason: what to fix before confirming.
        "invalid_sample": [],
    }
    for batch in batched(iter_source_rows(restore), BATCH_SIZE):
        plan["records"] += len(batch)
        current = current_values(object_type, [record_id for record_id, _ in batch])
        diffs, missing = diff_records(schema, properties, batch, current)
        if missing:
            plan["missing"] += missing
            room = SAMPLE_SIZE - len(plan["missing_sample"])
            if room > 0:
                plan["missing_sample"] += [r for r, _ in batch if r not in current][:room]
        plan["changing_records"] += len(diffs)
        for diff in diffs:
            for name, (_, after) in diff.changes.items():
                per_property[name]["clear" if after is None else "change"] += 1
            for name in diff.invalid:
                per_property[name]["invalid"] += 1
                if len(plan["invalid_sample"]) < SAMPLE_SIZE:
                    plan["invalid_sample"].append(
                        {"id": diff.record_id, "property": name, "reason": diff.reasons[name]}
                    )
            if len(plan["sample"]) < SAMPLE_SIZE:
                plan["sample"].append(
                    {
                        "id": diff.record_id,
                        "name": Record(
                            object_type=object_type, properties=current[diff.record_id]
                        ).display_name,
                        "changes": {n: list(v) for n, v in diff.changes.items()},
                    }
                )
    plan["properties"] = per_property
    return plan


def plan_restore(
    *, backup: Backup, object_type_name: str, properties: Sequence[str], actor, source: str
) -> Restore:
    """Check the request and compute its plan; nothing is written to records until confirmed."""
    sources.validate_source(source)
    status = backup.status_at(timezone.now())
    if status != Backup.Status.READY:
        raise BackupError(
            f"Backup #{backup.pk} is {Backup.Status(status).label.lower()}; "
            "only a ready backup can be restored from.",
            field="backup",
        )
    object_type = ObjectType.objects.filter(name=object_type_name).first()
    if object_type is None:
        raise BackupError(f"Unknown object type {object_type_name!r}.", field="object_type")
    if object_type.name in NOT_RESTORABLE:
        raise BackupError(
            f"{object_type.label_plural} cannot be restored; restorable are companies, contacts, "
            "deals, tickets, products, calls, tasks and custom objects.",
            field="object_type",
        )
    if not (backup.counts or {}).get(object_type.name):
        raise BackupError(
            f"Backup #{backup.pk} holds no {object_type.label_plural.lower()}.",
            field="object_type",
        )
    names = list(dict.fromkeys(properties))
    if not names:
        raise BackupError("Choose at least one property to restore.", field="properties")
    check_writable(object_type=object_type, names=names)
    available = set(restorable_properties(backup=backup, object_type=object_type))
    unknown = [name for name in names if name not in available]
    if unknown:
        raise BackupError(
            f"Not restorable from this backup: {', '.join(unknown)} (a property must exist "
            f"today and be in the backup's {csv_name(object_type.name)}).",
            field="properties",
        )
    restore = Restore(backup=backup, object_type=object_type, properties=names, requested_by=actor)
    return _save_planned(restore, actor, source, {"backup": backup.pk, "properties": names})


def plan_rollback(*, restore: Restore, actor, source: str) -> Restore:
    """Plan putting back the values a finished restore replaced (it is then confirmed alike)."""
    sources.validate_source(source)
    if restore.status != Restore.Status.DONE:
        raise BackupError("Only a finished restore can be rolled back.")
    if restore.rollbacks.exclude(status__in=[Restore.Status.PLANNED, Restore.Status.FAILED]):
        raise BackupError(f"{restore.name} (#{restore.pk}) was already rolled back.")
    rollback = Restore(
        backup=restore.backup,
        object_type=restore.object_type,
        properties=list(restore.properties),
        rollback_of=restore,
        requested_by=actor,
    )
    return _save_planned(rollback, actor, source, {"rollback_of": restore.pk})


def _save_planned(restore: Restore, actor, source: str, detail: dict) -> Restore:
    """Compute the restore's plan, then save it and audit "restore_planned" in one transaction
    (the audit's detail names the saved restore first)."""
    restore.plan = compute_plan(restore)
    with transaction.atomic():
        restore.save()
        record_audit(
            verb="restore_planned",
            source=source,
            actor=actor,
            object_type=restore.object_type,
            target_repr=restore.name,
            detail={"restore": restore.pk, **detail},
        )
    return restore
