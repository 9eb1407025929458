"""Unique property values against the database: the writers' lock and set-wise lookups.

Planning an upsert or a restore asks who already holds a value of a unique property; these
lookups go by chunks of values, never one query per record.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import NamedTuple

from django.db import connection
from django.db.models import QuerySet

from crm.bulk_sql import dump_json, is_postgresql
from crm.models import ObjectType, Record
from crm.schema import Schema

# Values per `properties__<name>__in` lookup: long enough for a 5,000-record chunk in one query.
LOOKUP_CHUNK = 5000
# Properties whose value has an expression index (crm_record_email_idx): many values are
# looked up by one index probe each. Other properties' values are looked up by one hash join.
INDEXED_PROPERTIES = frozenset({"email"})
_json_loads = json.JSONDecoder().decode


class CurrentRecord(NamedTuple):
    """An active record as a write plans against it: its id and its properties, locked."""

    # A named tuple, not a dataclass: a bulk write makes one per record it matches.
    pk: int
    properties: dict


def active_records_by_id(
    object_type: ObjectType, ids: Sequence[int], *, lock: bool
) -> dict[int, dict]:
    """{id: properties} of the active records of the object type among `ids`, optionally locked."""
    if not ids:
        return {}
    if is_postgresql():
        # Raw: the ORM's `pk__in` compiles one parameter per id, and its JSON field decodes
        # through per-row converters. One lookup per id (a nested loop into an index, in the
        # ids' order, so rows are locked in a predictable order): a plan that does not depend
        # on the table's statistics, which lag behind bulk loads (filtering every record of
        # the type by thousands of ids once took ten times as long). OFFSET 0 keeps the
        # planner from flattening the lookup into a join it might plan otherwise.
        table = connection.ops.quote_name(Record._meta.db_table)
        sql = (
            f"SELECT r.id, r.properties FROM unnest(%s::bigint[]) AS v(id) CROSS JOIN LATERAL ("
            f"SELECT r.id, r.properties FROM {table} AS r WHERE r.id = v.id "
            "AND r.object_type_id = %s AND r.archived_at IS NULL "
            f"OFFSET 0{' FOR UPDATE' if lock else ''}) AS r"
        )
        return dict(_fetch_properties(sql, [list(ids), object_type.pk]))
    queryset = Record.objects.filter(object_type=object_type, pk__in=ids, archived_at__isnull=True)
    if lock:
        queryset = locked(queryset)
    return dict(queryset.values_list("pk", "properties"))


def unique_names(schema: Schema) -> list[str]:
    """The names of the object type's unique properties."""
    return [name for name, prop in schema.properties.items() if prop.unique]


def lock_unique_values(schema: Schema) -> None:
    """Serialise the writers of one object type's unique values for this transaction."""
    # Two concurrent writers must not both pass the uniqueness check for the same value:
    # serialise writers of one object type's unique values for the rest of the transaction.
    if is_postgresql():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [0x0C0C, schema.object_type.pk])


def records_by_unique_value(
    object_type: ObjectType, name: str, values: list
) -> dict[object, CurrentRecord]:
    """The active records holding these values of a unique property, locked, by value."""
    return {
        properties.get(name): CurrentRecord(pk, properties)
        for pk, properties in _holders(object_type, name, values, lock=True)
    }


def active_records_holding(
    object_type: ObjectType, name: str, values: list
) -> list[tuple[int, dict]]:
    """(id, properties) of the active records holding one of these values of a property."""
    return _holders(object_type, name, values, lock=False)


def _holders(
    object_type: ObjectType, name: str, values: list, *, lock: bool
) -> list[tuple[int, dict]]:
    found: list[tuple[int, dict]] = []
    for start in range(0, len(values), LOOKUP_CHUNK):
        chunk = values[start : start + LOOKUP_CHUNK]
        if is_postgresql():
            found += _holders_pg(object_type, name, chunk, lock=lock)
            continue
        queryset = Record.objects.filter(
            object_type=object_type, archived_at__isnull=True, **{f"properties__{name}__in": chunk}
        )
        found += (locked(queryset) if lock else queryset).values_list("pk", "properties")
    return found


def _holders_pg(
    object_type: ObjectType, name: str, values: list, *, lock: bool
) -> list[tuple[int, dict]]:
    """(id, properties) of the active records holding these values, optionally locked."""
    table = connection.ops.quote_name(Record._meta.db_table)
    # The values travel as one JSON document: psycopg escapes array parameters element by
    # element.
    if name in INDEXED_PROPERTIES:
        # One index lookup per value, with the object type and archived checks outside the
        # lookup: statistics lag behind bulk loads, and with them in the lookup the planner
        # once filtered every record of the type by thousands of values (half a minute per
        # chunk).
        sql = (
            "SELECT r.id, r.properties FROM jsonb_array_elements(%s::jsonb) AS v(key) "
            "CROSS JOIN LATERAL ("
            f"SELECT r.id, r.properties, r.object_type_id, r.archived_at FROM {table} AS r "
            f"WHERE r.properties -> %s = v.key OFFSET 0{' FOR UPDATE' if lock else ''}) AS r "
            "WHERE r.object_type_id = %s AND r.archived_at IS NULL"
        )
    else:
        # No index on the value: one pass over the type's active records, each value looked
        # up in a hash of the wanted ones (a lookup per value would read the table per value).
        sql = (
            "SELECT r.id, r.properties FROM jsonb_array_elements(%s::jsonb) AS v(key) "
            f"JOIN {table} AS r ON r.properties -> %s = v.key "
            "WHERE r.object_type_id = %s AND r.archived_at IS NULL"
            f"{' FOR UPDATE OF r' if lock else ''}"
        )
    with connection.cursor() as cursor:
        # The same lagging statistics overestimate the rows, which would start JIT compilation
        # (half a second per chunk) for a query of index lookups: off for this statement only.
        cursor.execute("SELECT current_setting('jit'), set_config('jit', 'off', true)")
        jit = cursor.fetchone()[0]
        cursor.execute(sql, [dump_json(values), name, object_type.pk])
        rows = cursor.fetchall()
        cursor.execute("SELECT set_config('jit', %s, true)", [jit])
    return [(pk, _json_loads(properties)) for pk, properties in rows]


def existing_unique_values(
    object_type: ObjectType, name: str, values: list, exclude_ids: Sequence[int]
) -> dict[object, int]:
    """Which active record (outside `exclude_ids`) holds each of these values, by value."""
    exclude = set(exclude_ids)
    return {
        properties.get(name): pk
        for pk, properties in active_records_holding(object_type, name, values)
        if pk not in exclude
    }


def locked(queryset: QuerySet[Record]) -> QuerySet[Record]:
    """The queryset locked for this transaction, where the database can lock rows."""
    return queryset.select_for_update() if connection.features.has_select_for_update else queryset


def _fetch_properties(sql: str, params: list) -> list[tuple[int, dict]]:
    """Run a query of (id, properties) rows; the properties decoded."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    # Django reads jsonb as text (its JSON field decodes it); a raw cursor gets the text too.
    return [(pk, _json_loads(properties)) for pk, properties in rows]
