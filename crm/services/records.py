"""Record writes: create, update, upsert (single or bulk), archive, restore, purge.

One write path serves every caller: inputs are validated and coerced against the object type's
schema first (nothing is written if any input is refused, unless the caller asks for partial
writes), then written set-wise with one audit event per changed record and one change-hook call
per group of records that changed the same properties.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from crm import hooks, sources
from crm.audit import record_audit_many
from crm.bulk_sql import allocate_ids, insert_rows, is_postgresql, update_json_rows
from crm.errors import (
    BatchValidationError,
    CrmError,
    FieldErrors,
    RecordValidationError,
    ValueCode,
)
from crm.models import ObjectType, Property, Record, display_name
from crm.schema import Schema, load_schema_for_write
from crm.values import InvalidValue, coerce_value

Mode = Literal["create", "update", "upsert"]
Action = Literal["created", "updated", "unchanged"]
SENSITIVE_MASK = "(sensitive)"


@dataclass(frozen=True, slots=True)
class RecordInput:
    """One record to write: its properties, and for updates its id."""

    properties: Mapping[str, object]
    id: int | None = None


@dataclass(slots=True)
class ItemResult:
    index: int
    id: int | None = None
    action: Action | None = None
    errors: FieldErrors = field(default_factory=FieldErrors)


@dataclass(slots=True)
class WriteResult:
    items: list[ItemResult]

    @property
    def ids(self) -> list[int]:
        return [item.id for item in self.items if item.id is not None]

    def count(self, action: Action) -> int:
        return sum(1 for item in self.items if item.action == action)


# --- public services ------------------------------------------------------------------------


def create_record(
    *, object_type: ObjectType, properties: Mapping[str, object], actor=None, source: str
) -> Record:
    """Create one record; raises RecordValidationError naming each bad property."""
    result = _write_one(object_type, RecordInput(properties=properties), "create", actor, source)
    return Record.objects.select_related("object_type").get(pk=result.id)


def update_record(
    *, record: Record, properties: Mapping[str, object], actor=None, source: str
) -> Record:
    """Update some properties of one record (a None or "" value clears a property)."""
    _write_one(
        record.object_type,
        RecordInput(properties=properties, id=record.pk),
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
) -> WriteResult:
    """Create, update or upsert many records of one object type.

    Upserts match existing records by `id` or, with `id_property`, by that unique property
    (e.g. email). With `all_or_none` any invalid input refuses the whole batch
    (BatchValidationError); without it the valid inputs are written and the others reported.
    With `dry_run` nothing is written: forms use it to show every error before saving.
    """
    sources.validate_source(source)
    with transaction.atomic():
        schema = load_schema_for_write(object_type)
        if id_property is not None:
            _check_id_property(schema, id_property)
        plan = _plan(schema, inputs, mode, id_property, actor, source)
        failed = {item.index: item.errors for item in plan.items if item.errors}
        if failed and all_or_none:
            raise BatchValidationError(failed)
        if not dry_run:
            _apply(schema, plan, actor, source)
    return WriteResult(items=plan.items)


def set_property_values(
    *,
    object_type: ObjectType,
    name: str,
    values: Mapping[int, object],
    actor=None,
    source: str,
) -> WriteResult:
    """Set one property on many records ({record id: value}; None clears), set-wise.

    The same rules as write_records (coercion, read-only and permissions, audit, stamps, the
    change hook) for the common case of copying one value into many records (sync properties,
    restores), without loading and rewriting whole records: on PostgreSQL one statement sets
    the key in place and returns the old values for the audit log. Inputs that are refused are
    reported per item; the others are written.
    """
    sources.validate_source(source)
    with transaction.atomic():
        return _set_property_values(object_type, name, values, actor, source)


def _set_property_values(
    object_type: ObjectType, name: str, values: Mapping[int, object], actor, source: str
) -> WriteResult:
    schema = load_schema_for_write(object_type)
    prop = schema.properties.get(name)
    if prop is None or prop.unique or not is_postgresql():
        # Unique values need the full uniqueness check; SQLite is for demos, not volume.
        return write_records(
            object_type=object_type,
            inputs=[RecordInput(properties={name: v}, id=pk) for pk, v in values.items()],
            mode="update",
            actor=actor,
            source=source,
            all_or_none=False,
        )
    items, coerced = [], {}
    for index, (pk, raw) in enumerate(values.items()):
        planned = _validate_input(
            schema, index, RecordInput(properties={name: raw}, id=pk), "update", actor, source
        )
        items.append(planned.item)
        if not planned.item.errors:
            coerced[pk] = planned.values[name]
    now = timezone.now()
    stamp = {"at": now.isoformat(), "source": source}
    display_key = object_type.primary_property or "name"  # with the names, for the audit log
    sql = f"""
        WITH v AS (
            SELECT * FROM jsonb_to_recordset(%s::jsonb) AS v(id bigint, val jsonb)
        ), old AS (
            SELECT r.id, r.properties -> %s AS before FROM {Record._meta.db_table} r
            JOIN v ON v.id = r.id
            WHERE r.object_type_id = %s AND r.archived_at IS NULL
            ORDER BY r.id
            FOR UPDATE OF r
        )
        UPDATE {Record._meta.db_table} r SET
            properties = CASE WHEN v.val IS NULL OR jsonb_typeof(v.val) = 'null'
                              THEN r.properties - %s
                              ELSE jsonb_set(r.properties, ARRAY[%s], v.val) END,
            property_changes = jsonb_set(r.property_changes, ARRAY[%s], %s::jsonb),
            updated_at = %s
        FROM v JOIN old ON old.id = v.id
        WHERE r.id = v.id AND old.before IS DISTINCT FROM v.val
        RETURNING r.id, old.before, jsonb_build_object(
            'firstname', r.properties -> 'firstname', 'lastname', r.properties -> 'lastname',
            %s, r.properties -> %s)
    """
    payload = [{"id": pk, "val": value} for pk, value in coerced.items()]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                json.dumps(payload),
                name,
                object_type.pk,
                name,
                name,
                name,
                json.dumps(stamp),
                now,
                display_key,
                display_key,
            ],
        )
        # Django's psycopg adapter hands jsonb back as text.
        changed = [(pk, _from_json(before), _from_json(names)) for pk, before, names in cursor]
        changed_ids = {pk for pk, _, _ in changed}
        # An id the statement left alone either already held the value or is not active.
        untouched = [pk for pk in coerced if pk not in changed_ids]
        active = _active_ids(object_type, untouched) if untouched else set()
        for item in items:
            if item.errors:
                continue
            if item.id in changed_ids:
                item.action = "updated"
            elif item.id in active:
                item.action = "unchanged"
            else:
                item.errors.add(
                    "id",
                    f"no active {object_type.label_singular} with this id",
                    code=ValueCode.NOT_FOUND,
                )
        sensitive = prop.sensitive
        record_audit_many(
            verb="update",
            source=source,
            actor=actor,
            object_type=object_type,
            targets=[
                (
                    pk,
                    _repr(object_type, names),
                    {
                        "changes": {
                            name: [SENSITIVE_MASK, SENSITIVE_MASK]
                            if sensitive
                            else [before, coerced[pk]]
                        }
                    },
                )
                for pk, before, names in changed
            ],
        )
        hooks.emit_records_changed(
            hooks.RecordsChanged(
                object_type=object_type,
                record_ids=tuple(pk for pk, _, _ in changed),
                changed_properties=frozenset({name}),
                source=source,
                kind="updated",
            )
        )
    return WriteResult(items=items)


def _from_json(value):
    return json.loads(value) if isinstance(value, str) else value


def _active_ids(object_type: ObjectType, ids: list[int]) -> set[int]:
    return set(
        Record.objects.filter(
            object_type=object_type, pk__in=ids, archived_at__isnull=True
        ).values_list("pk", flat=True)
    )


def archive_records(
    *, object_type: ObjectType, record_ids: Sequence[int], actor=None, source: str
) -> int:
    """Move records to the recycle bin; they can be restored for the retention period."""
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
        Record.objects.filter(pk__in=ids).update(archived_at=timezone.now())
        _audit_and_announce(object_type, records, "archive", "archived", actor, source)
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
        _lock_unique_values(schema)
        for name in _unique_names(schema):
            values = {r.properties[name]: r for r in records if r.properties.get(name) is not None}
            taken = _existing_unique_values(object_type, name, list(values), exclude_ids=())
            for value, holder in taken.items():
                raise CrmError(
                    f"cannot restore record {values[value].pk}: record {holder} "
                    f"already has {name} {value!r}"
                )
        ids = [r.pk for r in records]
        Record.objects.filter(pk__in=ids).update(archived_at=None, updated_at=timezone.now())
        _audit_and_announce(object_type, records, "restore", "restored", actor, source)
    return len(ids)


def count_option_holders(*, prop: Property, values: Sequence[str]) -> dict[str, int]:
    """How many records (the recycle bin included) hold each of these options of a property."""
    if not values:
        return {}
    table = Record._meta.db_table
    if is_postgresql():
        # `?` matches a string scalar (a dropdown) and a string element of an array (checkboxes).
        sql = (
            f"SELECT v, count(*) FROM {table} r, unnest(%s::text[]) AS v "
            "WHERE r.object_type_id = %s AND r.properties -> %s ? v GROUP BY v"
        )
        params = [list(values), prop.object_type_id, prop.name]
    else:
        # json_each walks an array's elements, and yields a scalar itself.
        marks = ", ".join(["%s"] * len(values))
        sql = (
            f"SELECT j.value, count(DISTINCT r.id) FROM {table} r, json_each(r.properties, %s) j "
            f"WHERE r.object_type_id = %s AND j.type = 'text' AND j.value IN ({marks}) "
            "GROUP BY j.value"
        )
        params = [f'$."{prop.name}"', prop.object_type_id, *values]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {value: n for value, n in cursor.fetchall()}


def replace_option_values(
    *, prop: Property, replacements: Mapping[str, str | None], actor=None, source: str
) -> int:
    """Move every record (the recycle bin included) off some options of a property, set-wise.

    `replacements` maps an old option to the option that takes its place, or None to clear it
    (from a multi-select: drop it). Returns the number of records changed; each gets an audit
    event and a change stamp, and active ones reach the change hook (integrations push them).
    """
    sources.validate_source(source)
    if not replacements:
        return 0
    table = Record._meta.db_table
    olds = list(replacements)
    with transaction.atomic():
        if is_postgresql():
            where, params = "properties -> %s ?| %s::text[]", [prop.name, olds]
        else:
            marks = ", ".join(["%s"] * len(olds))
            where = (
                f"EXISTS (SELECT 1 FROM json_each({table}.properties, %s) j "
                f"WHERE j.type = 'text' AND j.value IN ({marks}))"
            )
            params = [f'$."{prop.name}"', *olds]
        lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id, properties, property_changes, archived_at FROM {table} "
                f"WHERE object_type_id = %s AND {where} ORDER BY id{lock}",
                [prop.object_type_id, *params],
            )
            found = cursor.fetchall()
        now = timezone.now()
        stamp = {"at": now.isoformat(), "source": source}
        rows, targets, active = [], [], []
        for pk, properties, changes, archived_at in found:
            properties, changes = _from_json(properties), _from_json(changes)
            before = properties.get(prop.name)
            after = _replace_options(before, replacements)
            if after is None:
                properties.pop(prop.name, None)
            else:
                properties[prop.name] = after
            changes[prop.name] = stamp
            rows.append((pk, properties, changes, now))
            targets.append(
                (
                    pk,
                    _repr(prop.object_type, properties),
                    {
                        "changes": {
                            prop.name: [SENSITIVE_MASK, SENSITIVE_MASK]
                            if prop.sensitive
                            else [before, after]
                        }
                    },
                )
            )
            if archived_at is None:
                active.append(pk)
        update_json_rows(Record, rows)
        record_audit_many(
            verb="update", source=source, actor=actor, object_type=prop.object_type, targets=targets
        )
        if active:
            hooks.emit_records_changed(
                hooks.RecordsChanged(
                    object_type=prop.object_type,
                    record_ids=tuple(active),
                    changed_properties=frozenset({prop.name}),
                    source=source,
                    kind="updated",
                )
            )
    return len(rows)


def _replace_options(value: object, replacements: Mapping[str, str | None]) -> object:
    if isinstance(value, list):
        moved: list = []
        for item in value:
            new = replacements.get(item, item) if isinstance(item, str) else item
            if new is not None and new not in moved:
                moved.append(new)
        return moved or None
    return replacements.get(value, value) if isinstance(value, str) else value


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
                _audit_and_announce(
                    records[0].object_type, records, "purge", "purged", None, sources.SYSTEM
                )
            Record.objects.filter(pk__in=[r.pk for r in batch]).delete()
            purged += len(batch)


def _audit_and_announce(
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
        targets=[(r.pk, _repr(object_type, r.properties), {}) for r in records],
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


# --- planning: validate and compute changes, write nothing ----------------------------------


@dataclass(slots=True)
class _Planned:
    item: ItemResult
    values: dict[str, object]  # coerced; None means clear
    existing: Record | None = None
    new_properties: dict[str, object] | None = None
    changed: frozenset[str] = frozenset()
    # The upsert key whose value was already looked up among active records (under the lock).
    matched_on: str | None = None


@dataclass(slots=True)
class _Plan:
    items: list[ItemResult]
    creates: list[_Planned]
    updates: list[_Planned]


def _write_one(object_type, record_input, mode, actor, source) -> ItemResult:
    try:
        result = write_records(
            object_type=object_type, inputs=[record_input], mode=mode, actor=actor, source=source
        )
    except BatchValidationError as exc:
        raise RecordValidationError(exc.errors[0]) from None
    return result.items[0]


def _plan(
    schema: Schema,
    inputs: Sequence[RecordInput],
    mode: Mode,
    id_property: str | None,
    actor,
    source: str,
) -> _Plan:
    planned = [
        _validate_input(schema, i, record_input, mode, actor, source)
        for i, record_input in enumerate(inputs)
    ]
    _match_existing(schema, planned, inputs, mode, id_property)
    _check_unique_values(schema, planned)
    plan = _Plan(items=[p.item for p in planned], creates=[], updates=[])
    for p in planned:
        if p.item.errors:
            continue
        if p.existing is None:
            p.new_properties = {k: v for k, v in p.values.items() if v is not None}
            p.changed = frozenset(p.new_properties)
            p.item.action = "created"
            plan.creates.append(p)
            continue
        merged = dict(p.existing.properties)
        changed = set()
        for name, value in p.values.items():
            if merged.get(name) != value:
                changed.add(name)
                if value is None:
                    merged.pop(name, None)
                else:
                    merged[name] = value
        p.item.id = p.existing.pk
        if changed:
            p.new_properties, p.changed = merged, frozenset(changed)
            p.item.action = "updated"
            plan.updates.append(p)
        else:
            p.item.action = "unchanged"
    return plan


def _validate_input(
    schema: Schema, index: int, record_input: RecordInput, mode: Mode, actor, source: str
) -> _Planned:
    item = ItemResult(index=index, id=record_input.id)
    values: dict[str, object] = {}
    if not isinstance(record_input.properties, Mapping):
        item.errors.add(
            "properties",
            "must be an object of property names and values",
            code=ValueCode.INVALID,
        )
        return _Planned(item=item, values=values)
    if mode == "update" and record_input.id is None:
        item.errors.add("id", "is required to update a record", code=ValueCode.REQUIRED)
    system = sources.is_system_source(source)
    for name, raw in record_input.properties.items():
        prop = schema.properties.get(name)
        if prop is None:
            item.errors.add(
                name,
                f"unknown property of {schema.object_type.name}",
                code=ValueCode.UNKNOWN_PROPERTY,
            )
            continue
        if prop.read_only and not system:
            item.errors.add(name, "is read-only", code=ValueCode.READ_ONLY)
            continue
        if not schema.can_edit(actor, name):
            item.errors.add(
                name,
                "you do not have permission to edit this property",
                code=ValueCode.FORBIDDEN,
            )
            continue
        try:
            values[name] = coerce_value(schema.specs[name], raw)
        except InvalidValue as exc:
            item.errors.add(name, str(exc), code=ValueCode.INVALID)
    return _Planned(item=item, values=values)


def _match_existing(
    schema: Schema,
    planned: list[_Planned],
    inputs: Sequence[RecordInput],
    mode: Mode,
    id_property: str | None,
) -> None:
    """Find the records that updates and upserts refer to, locked for this transaction."""
    if mode == "create":
        return
    object_type = schema.object_type
    by_id = [p for p in planned if inputs[p.item.index].id is not None]
    _flag_repeats(by_id, lambda p: inputs[p.item.index].id, "id")
    ids = {inputs[p.item.index].id for p in by_id if not p.item.errors}
    found = (
        {
            r.pk: r
            for r in _locked(
                Record.objects.filter(object_type=object_type, pk__in=ids, archived_at__isnull=True)
            )
        }
        if ids
        else {}
    )
    for p in by_id:
        if p.item.errors:
            continue
        record = found.get(inputs[p.item.index].id)
        if record is None:
            p.item.errors.add(
                "id",
                f"no active {object_type.label_singular} with this id",
                code=ValueCode.NOT_FOUND,
            )
        else:
            p.existing = record
    if mode != "upsert" or id_property is None:
        return
    by_key = [p for p in planned if inputs[p.item.index].id is None and not p.item.errors]
    for p in by_key:
        if p.values.get(id_property) is None:
            p.item.errors.add(
                id_property,
                "is required to match records in an upsert",
                code=ValueCode.REQUIRED,
            )
    by_key = [p for p in by_key if not p.item.errors]
    _flag_repeats(by_key, lambda p: p.values[id_property], id_property)
    keys = [p.values[id_property] for p in by_key if not p.item.errors]
    _lock_unique_values(schema)
    existing = _records_by_unique_value(object_type, id_property, keys)
    for p in by_key:
        if not p.item.errors:
            p.existing = existing.get(p.values[id_property])
            p.matched_on = id_property


def _check_unique_values(schema: Schema, planned: list[_Planned]) -> None:
    """Refuse a value of a unique property that another active record (or input) holds."""
    names = [n for n in _unique_names(schema) if any(p.values.get(n) is not None for p in planned)]
    if not names:
        return
    _lock_unique_values(schema)
    for name in names:
        # Inputs with errors elsewhere are checked too, so a form shows every error at once.
        candidates = [
            p for p in planned if name not in p.item.errors and p.values.get(name) is not None
        ]
        _flag_repeats(candidates, lambda p, n=name: p.values[n], name)
        # A value a record keeps cannot collide, and an upsert key was looked up already.
        candidates = [
            p
            for p in candidates
            if name not in p.item.errors
            and p.matched_on != name
            and (p.existing is None or p.existing.properties.get(name) != p.values[name])
        ]
        holders = _existing_unique_values(
            schema.object_type,
            name,
            [p.values[name] for p in candidates],
            exclude_ids=[p.existing.pk for p in candidates if p.existing is not None],
        )
        for p in candidates:
            holder = holders.get(p.values[name])
            if holder is not None and (p.existing is None or p.existing.pk != holder):
                p.item.errors.add(
                    name,
                    f"{p.values[name]!r} is already used by record {holder}",
                    code=ValueCode.DUPLICATE,
                )


def _flag_repeats(planned: list[_Planned], key, label: str) -> None:
    seen: dict[object, int] = {}
    for p in planned:
        if label in p.item.errors:
            continue
        value = key(p)
        if value in seen:
            p.item.errors.add(
                label,
                f"{value!r} appears twice in this batch (also input {seen[value]})",
                code=ValueCode.REPEATED,
            )
        else:
            seen[value] = p.item.index


def _check_id_property(schema: Schema, id_property: str) -> None:
    prop = schema.properties.get(id_property)
    if prop is None:
        raise CrmError(f"unknown property {id_property!r} of {schema.object_type.name}")
    if not prop.unique:
        raise CrmError(f"{id_property!r} is not a unique property, so it cannot match records")


def _unique_names(schema: Schema) -> list[str]:
    return [name for name, prop in schema.properties.items() if prop.unique]


def _lock_unique_values(schema: Schema) -> None:
    # Two concurrent writers must not both pass the uniqueness check for the same value:
    # serialise writers of one object type's unique values for the rest of the transaction.
    if is_postgresql():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [0x0C0C, schema.object_type.pk])


def _records_by_unique_value(object_type: ObjectType, name: str, values: list) -> dict:
    records: dict[object, Record] = {}
    for start in range(0, len(values), 5000):
        chunk = values[start : start + 5000]
        queryset = Record.objects.filter(
            object_type=object_type, archived_at__isnull=True, **{f"properties__{name}__in": chunk}
        )
        for record in _locked(queryset):
            records[record.properties.get(name)] = record
    return records


def _existing_unique_values(
    object_type: ObjectType, name: str, values: list, exclude_ids: Sequence[int]
) -> dict[object, int]:
    holders: dict[object, int] = {}
    exclude = set(exclude_ids)
    for start in range(0, len(values), 5000):
        chunk = values[start : start + 5000]
        rows = Record.objects.filter(
            object_type=object_type, archived_at__isnull=True, **{f"properties__{name}__in": chunk}
        ).values_list("pk", f"properties__{name}")
        for pk, value in rows:
            if pk not in exclude:
                holders[value] = pk
    return holders


def _locked(queryset):
    return queryset.select_for_update() if connection.features.has_select_for_update else queryset


# --- applying: write the plan set-wise --------------------------------------------------------


def _apply(schema: Schema, plan: _Plan, actor, source: str) -> None:
    now = timezone.now()
    stamp = {"at": now.isoformat(), "source": source}
    object_type = schema.object_type
    sensitive = {n for n, p in schema.properties.items() if p.sensitive}

    if plan.creates:
        rows = []
        for p in plan.creates:
            changes = dict.fromkeys(p.new_properties, stamp)
            rows.append((p.new_properties, changes))
        ids = _insert_records(object_type, rows, now)
        for p, pk in zip(plan.creates, ids, strict=True):
            p.item.id = pk
        record_audit_many(
            verb="create",
            source=source,
            actor=actor,
            object_type=object_type,
            targets=[
                (
                    p.item.id,
                    _repr(object_type, p.new_properties),
                    {"properties": sorted(p.new_properties)},
                )
                for p in plan.creates
            ],
        )

    if plan.updates:
        rows = []
        for p in plan.updates:
            changes = dict(p.existing.property_changes)
            for name in p.changed:
                changes[name] = stamp
            rows.append((p.existing.pk, p.new_properties, changes, now))
        update_json_rows(Record, rows)
        record_audit_many(
            verb="update",
            source=source,
            actor=actor,
            object_type=object_type,
            targets=[
                (
                    p.existing.pk,
                    _repr(object_type, p.new_properties),
                    {"changes": _diff(p, sensitive)},
                )
                for p in plan.updates
            ],
        )

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


def _diff(p: _Planned, sensitive: set[str]) -> dict[str, list]:
    before = p.existing.properties
    return {
        name: [SENSITIVE_MASK, SENSITIVE_MASK]
        if name in sensitive
        else [before.get(name), p.new_properties.get(name)]
        for name in sorted(p.changed)
    }


def _repr(object_type: ObjectType, properties: Mapping[str, object]) -> str:
    return display_name(object_type, properties)


def _ids(ids: Sequence[int]) -> str:
    return ", ".join(str(i) for i in ids[:10]) + (" …" if len(ids) > 10 else "")
