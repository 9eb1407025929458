"""The set-based writer of RecordLink rows: many links in one UPDATE … FROM (VALUES …)."""

from __future__ import annotations

import json

from django.db import connection

from syncengine.models import RecordLink

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


def update_links(columns: list[str], rows: list[tuple]) -> None:
    """Write many links in one statement per 500 (Django's bulk_update builds a CASE per row
    and column, which cost most of a push's CPU). A `clear_if_seq` column clears `dirty` only
    where change_seq still equals it: a change made during the push keeps its link dirty."""
    if not rows:
        return
    table = RecordLink._meta.db_table
    pg = connection.vendor == "postgresql"
    names = ["id", *columns]
    sets = []
    for name in columns:
        if name == "clear_if_seq":
            sets.append(
                f"dirty = CASE WHEN v.clear_if_seq IS NOT NULL AND {table}.change_seq = "
                f"v.clear_if_seq THEN FALSE ELSE {table}.dirty END"
            )
        else:
            value = f"CAST(v.{name} AS {_LINK_COLUMN_TYPES[name]})" if pg else f"v.{name}"
            # A pull only ever sets `dirty`: a user's change committed meanwhile stays pending.
            sets.append(
                f"dirty = ({table}.dirty OR {value})" if name == "dirty" else f"{name} = {value}"
            )
    for start in range(0, len(rows), 500):
        chunk = rows[start : start + 500]
        placeholders = ", ".join("(" + ", ".join(["%s"] * len(names)) + ")" for _ in chunk)
        params = []
        for row in chunk:
            for name, value in zip(names, row, strict=True):
                if name == "agreed":
                    value = json.dumps(value)
                params.append(value)
        id_cast = "CAST(v.id AS bigint)" if pg else "v.id"
        sql = (
            f"WITH v({', '.join(names)}) AS (VALUES {placeholders}) "
            f"UPDATE {table} SET {', '.join(sets)} FROM v WHERE {table}.id = {id_cast}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
