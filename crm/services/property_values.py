"""Set-wise writes of one property across many records: set values, count and move options.

The same rules as write_records (coercion, read-only and permissions, audit, stamps, the change
hook), for the cases that touch one property of many records (sync properties, restores, a
dropdown losing options) without loading and rewriting whole records.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from django.db import connection, transaction
from django.utils import timezone

from crm import hooks, sources
from crm.bulk_sql import is_postgresql, update_json_rows
from crm.errors import ValueCode
from crm.models import ObjectType, Property, Record
from crm.schema import Schema, load_schema_for_write
from crm.services.record_apply import audit_updates, masked_change
from crm.services.record_planning import (
    ItemResult,
    PropertyRules,
    check_owner_values,
    validate_input,
)
from crm.services.records import RecordInput, WriteResult, write_records

# The old value of each changed record comes back for the audit log, with its display names.
_SET_IN_PLACE_SQL = f"""
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

# (record id, value before, the properties display_name reads) of each record changed.
_Changed = list[tuple[int, object, dict]]


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
        items, coerced = _validate_values(schema, name, values, actor, source)
        with transaction.atomic():
            changed = _set_in_place(object_type, name, coerced, source)
            _settle_items(object_type, items, coerced, {pk for pk, _, _ in changed})
            _audit_and_announce_values(
                object_type, name, prop.sensitive, changed, coerced, actor, source
            )
        return WriteResult(items=items)


def _validate_values(
    schema: Schema, name: str, values: Mapping[int, object], actor, source: str
) -> tuple[list[ItemResult], dict[int, object]]:
    """Check and coerce each value as an update of that record would; valid ones by record id."""
    rules = PropertyRules(schema, actor, source)
    planned = [
        validate_input(
            schema,
            index,
            RecordInput(properties={name: raw}, id=pk),
            "update",
            actor,
            source,
            rules=rules,
        )
        for index, (pk, raw) in enumerate(values.items())
    ]
    check_owner_values(schema, planned, allow_inactive=sources.is_integration_source(source))
    coerced = {p.item.id: p.values[name] for p in planned if not p.item.errors}
    return [p.item for p in planned], coerced


def _set_in_place(
    object_type: ObjectType, name: str, coerced: dict[int, object], source: str
) -> _Changed:
    """Set (or clear) the key on the active records whose value differs, in one statement."""
    now = timezone.now()
    stamp = {"at": now.isoformat(), "source": source}
    display_key = object_type.primary_property or "name"  # with the names, for the audit log
    payload = [{"id": pk, "val": value} for pk, value in coerced.items()]
    with connection.cursor() as cursor:
        cursor.execute(
            _SET_IN_PLACE_SQL,
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
        return [(pk, _from_json(before), _from_json(names)) for pk, before, names in cursor]


def _settle_items(
    object_type: ObjectType,
    items: list[ItemResult],
    coerced: dict[int, object],
    changed_ids: set[int],
) -> None:
    """Mark each valid item updated or unchanged, or refuse it when its record is not active."""
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


def _audit_and_announce_values(
    object_type: ObjectType,
    name: str,
    sensitive: bool,
    changed: _Changed,
    coerced: dict[int, object],
    actor,
    source: str,
) -> None:
    """One audit event per changed record, then one change-hook call for them all."""
    audit_updates(
        object_type,
        [
            (pk, names, {name: masked_change(before, coerced[pk], sensitive)})
            for pk, before, names in changed
        ],
        actor,
        source,
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
    with transaction.atomic():
        found = _lock_option_holders(prop, list(replacements))
        now = timezone.now()
        stamp = {"at": now.isoformat(), "source": source}
        rows, updates, active = [], [], []
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
            updates.append(
                (pk, properties, {prop.name: masked_change(before, after, prop.sensitive)})
            )
            if archived_at is None:
                active.append(pk)
        update_json_rows(Record, rows)
        audit_updates(prop.object_type, updates, actor, source)
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


def _lock_option_holders(prop: Property, olds: list[str]) -> list[tuple]:
    """The rows (archived too) holding any of these options of the property, locked, by id."""
    table = Record._meta.db_table
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
        return cursor.fetchall()


def _replace_options(value: object, replacements: Mapping[str, str | None]) -> object:
    if isinstance(value, list):
        moved: list = []
        for item in value:
            new = replacements.get(item, item) if isinstance(item, str) else item
            if new is not None and new not in moved:
                moved.append(new)
        return moved or None
    return replacements.get(value, value) if isinstance(value, str) else value


def _from_json(value):
    return json.loads(value) if isinstance(value, str) else value


def _active_ids(object_type: ObjectType, ids: list[int]) -> set[int]:
    return set(
        Record.objects.filter(
            object_type=object_type, pk__in=ids, archived_at__isnull=True
        ).values_list("pk", flat=True)
    )
