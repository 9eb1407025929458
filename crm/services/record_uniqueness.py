"""Unique property values against the database: the writers' lock and set-wise lookups.

Planning an upsert or a restore asks who already holds a value of a unique property; these
lookups go by chunks of values, never one query per record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection
from django.db.models import QuerySet

from crm.bulk_sql import is_postgresql
from crm.models import ObjectType, Record
from crm.schema import Schema

# Values per `properties__<name>__in` lookup: long enough for a 5,000-record chunk in one query.
LOOKUP_CHUNK = 5000


@dataclass(frozen=True, slots=True)
class CurrentRecord:
    """An active record as a write plans against it: its id and its properties, locked."""

    pk: int
    properties: dict


def current_records(queryset: QuerySet[Record]) -> list[CurrentRecord]:
    """The queryset's records, locked, read as (id, properties) only.

    A write merges its changes into the stored documents in the database (bulk_sql), so it
    needs neither model instances nor the records' change stamps.
    """
    return [
        CurrentRecord(pk, properties)
        for pk, properties in locked(queryset).values_list("pk", "properties")
    ]


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
    records: dict[object, CurrentRecord] = {}
    for start in range(0, len(values), LOOKUP_CHUNK):
        chunk = values[start : start + LOOKUP_CHUNK]
        queryset = Record.objects.filter(
            object_type=object_type, archived_at__isnull=True, **{f"properties__{name}__in": chunk}
        )
        for record in current_records(queryset):
            records[record.properties.get(name)] = record
    return records


def existing_unique_values(
    object_type: ObjectType, name: str, values: list, exclude_ids: Sequence[int]
) -> dict[object, int]:
    """Which active record (outside `exclude_ids`) holds each of these values, by value."""
    holders: dict[object, int] = {}
    exclude = set(exclude_ids)
    for start in range(0, len(values), LOOKUP_CHUNK):
        chunk = values[start : start + LOOKUP_CHUNK]
        rows = Record.objects.filter(
            object_type=object_type, archived_at__isnull=True, **{f"properties__{name}__in": chunk}
        ).values_list("pk", f"properties__{name}")
        for pk, value in rows:
            if pk not in exclude:
                holders[value] = pk
    return holders


def locked(queryset: QuerySet[Record]) -> QuerySet[Record]:
    """The queryset locked for this transaction, where the database can lock rows."""
    return queryset.select_for_update() if connection.features.has_select_for_update else queryset
