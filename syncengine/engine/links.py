"""The set-based writer of RecordLink rows: many links in one UPDATE per chunk.

On PostgreSQL the rows travel as one JSON document (`jsonb_to_recordset`): a VALUES list of
thousands of placeholders cost more to build and bind client-side than the UPDATE itself.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import NamedTuple

from django.db import connection

from crm.bulk_sql import insert_rows
from syncengine.models import ObjectMapping, RecordLink

# Column → PostgreSQL type of the link columns written in bulk (SQLite needs no casts).
_LINK_COLUMN_TYPES = {
    "remote_id": "varchar",
    "remote_object": "varchar",
    "pending_op": "varchar",
    "object_mapping_id": "bigint",
    "agreed": "jsonb",
    "synced_at": "timestamptz",
    "dirty_at": "timestamptz",
    "remote_modstamp": "timestamptz",
    "remote_deleted_at": "timestamptz",
    "dirty": "boolean",
    "pending_references": "boolean",
    "clear_if_seq": "bigint",
}
_PG_CHUNK = 5000  # rows per statement: one JSON parameter each
_SQLITE_CHUNK = 500  # rows per VALUES list (SQLite's limit on bound parameters)
_TABLE = RecordLink._meta.db_table


def update_links(columns: list[str], rows: list[tuple]) -> None:
    """Write many links, each row (id, *values in `columns` order). Django's bulk_update builds
    a CASE per row and column, which cost most of a push's CPU. A `clear_if_seq` column clears
    `dirty` only where change_seq still equals it: a change made during the push keeps its
    link dirty. A `dirty` column only ever sets it: a user's change committed meanwhile stays
    pending."""
    if not rows:
        return
    sets = ", ".join(_assignment(name) for name in columns)
    if connection.vendor == "postgresql":
        _update_postgresql(columns, rows, sets)
    else:
        _update_sqlite(columns, rows, sets)


def _assignment(name: str) -> str:
    if name == "clear_if_seq":
        return (
            f"dirty = CASE WHEN v.clear_if_seq IS NOT NULL AND {_TABLE}.change_seq = "
            f"v.clear_if_seq THEN FALSE ELSE {_TABLE}.dirty END"
        )
    if name == "dirty":
        return f"dirty = ({_TABLE}.dirty OR v.dirty)"
    return f"{name} = v.{name}"


def _update_postgresql(columns: list[str], rows: list[tuple], sets: str) -> None:
    types = ", ".join(f"{name} {_LINK_COLUMN_TYPES[name]}" for name in columns)
    sql = (
        f"UPDATE {_TABLE} SET {sets} "
        f"FROM jsonb_to_recordset(%s::jsonb) AS v(id bigint, {types}) WHERE {_TABLE}.id = v.id"
    )
    names = ["id", *columns]
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _PG_CHUNK):
            document = [
                dict(zip(names, map(_json_value, row), strict=True))
                for row in rows[start : start + _PG_CHUNK]
            ]
            cursor.execute(sql, [json.dumps(document)])


def _json_value(value: object) -> object:
    # Timestamps as ISO 8601 with their offset: PostgreSQL reads them back exactly.
    return value.isoformat() if isinstance(value, dt.datetime) else value


def _update_sqlite(columns: list[str], rows: list[tuple], sets: str) -> None:
    names = ["id", *columns]
    for start in range(0, len(rows), _SQLITE_CHUNK):
        chunk = rows[start : start + _SQLITE_CHUNK]
        placeholders = ", ".join("(" + ", ".join(["%s"] * len(names)) + ")" for _ in chunk)
        params = []
        for row in chunk:
            for name, value in zip(names, row, strict=True):
                params.append(json.dumps(value) if name == "agreed" else value)
        sql = (
            f"WITH v({', '.join(names)}) AS (VALUES {placeholders}) "
            f"UPDATE {_TABLE} SET {sets} FROM v WHERE {_TABLE}.id = v.id"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


class NewLink(NamedTuple):
    """A link a pull makes to the record it created: nothing to push (known by its remote id;
    its external id is set with the first change Concord sends)."""

    record_id: int
    remote_id: str
    agreed: dict
    remote_modstamp: dt.datetime | None


def create_links(om: ObjectMapping, links: list[NewLink], synced_at: dt.datetime) -> None:
    """Insert the new links of an object mapping in one COPY (PostgreSQL) or bulk INSERT.
    Tuples, not model instances: their ids are not needed, and constructing 100,000 models
    cost more than inserting them."""
    insert_rows(
        RecordLink,
        _NEW_LINK_COLUMNS,
        [
            (om.integration_id, om.pk, link.record_id, om.remote_object, link.remote_id,
             link.agreed, False, None, 0, False, link.remote_modstamp, None, synced_at, False,
             RecordLink.PendingOp.NONE.value)
            for link in links
        ],
        json_columns={"agreed"},
    )  # fmt: skip


_NEW_LINK_COLUMNS = (
    "integration_id",
    "object_mapping_id",
    "record_id",
    "remote_object",
    "remote_id",
    "agreed",
    "dirty",
    "dirty_at",
    "change_seq",
    "pending_references",
    "remote_modstamp",
    "remote_deleted_at",
    "synced_at",
    "dormant",
    "pending_op",
)
