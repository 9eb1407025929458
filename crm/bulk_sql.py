"""Set-based writes for large batches: COPY on PostgreSQL, bulk statements elsewhere.

Bulk upserts of hundreds of thousands of records must run near the speed of the database
itself (DESIGN.md principle 3), so the hot paths bypass per-object ORM work.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from django.db import connection, models

# Compact, non-ASCII kept, and dates as text: the form every bulk statement sends JSON in.
dump_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def allocate_ids(model: type[models.Model], count: int) -> list[int]:
    """Reserve `count` primary keys, so rows can be COPYed with known ids (PostgreSQL only)."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [table, count],
        )
        return [row[0] for row in cursor.fetchall()]


def insert_rows(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Sequence[Sequence],
    *,
    json_columns: set[str] = frozenset(),
) -> None:
    """Insert rows (values in `columns` order) as fast as the database allows."""
    if not rows:
        return
    json_idx = [i for i, c in enumerate(columns) if c in json_columns]
    if is_postgresql():
        table = connection.ops.quote_name(model._meta.db_table)
        cols = ", ".join(connection.ops.quote_name(c) for c in columns)
        with connection.cursor() as cursor:
            raw = cursor.cursor  # the psycopg cursor: Django's wrapper has no copy()
            with raw.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    if json_idx:
                        row = list(row)
                        for i in json_idx:
                            row[i] = dump_json(row[i])
                    copy.write_row(row)
        return
    field_names = [c[:-3] + "_id" if c.endswith("_id") else c for c in columns]
    objs = [model(**dict(zip(field_names, row, strict=True))) for row in rows]
    model.objects.bulk_create(objs, batch_size=500)


def update_json_rows(
    model: type[models.Model], rows: Sequence[tuple[int, dict, dict, object]]
) -> None:
    """Set (properties, property_changes, updated_at) of records by id, in bulk."""
    if not rows:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    if is_postgresql():
        # One JSON document per chunk: psycopg escapes text arrays element by element, which
        # cost more than the UPDATE itself; a single jsonb parameter is dumped once.
        sql = (
            f"UPDATE {table} AS r SET properties = v.p, property_changes = v.c, updated_at = v.u "
            "FROM jsonb_to_recordset(%s::jsonb) AS v(id bigint, p jsonb, c jsonb, u timestamptz) "
            "WHERE r.id = v.id"
        )
        with connection.cursor() as cursor:
            for start in range(0, len(rows), 5000):
                chunk = rows[start : start + 5000]
                cursor.execute(
                    sql,
                    [
                        dump_json(
                            [
                                {"id": pk, "p": props, "c": changes, "u": updated_at.isoformat()}
                                for pk, props, changes, updated_at in chunk
                            ]
                        )
                    ],
                )
        return
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET properties = %s, property_changes = %s, updated_at = %s "
            "WHERE id = %s",
            [
                (dump_json(p), dump_json(c), connection.ops.adapt_datetimefield_value(u), pk)
                for pk, p, c, u in rows
            ],
        )


def patch_json_rows(
    model: type[models.Model],
    rows: Sequence[tuple[int, dict, Sequence[str]]],
    *,
    changes: dict,
    updated_at,
) -> None:
    """Patch the properties of records that changed the same property set, in one statement.

    Each row is (id, {name: new value}, [names cleared]); every row's property_changes gets the
    same `changes` ({name: stamp} of the property set). The database merges the patch into the
    stored documents, so a batch sends what changed, not whole documents.
    """
    if not rows:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    if is_postgresql():
        sql = (
            f"UPDATE {table} AS r SET properties = (r.properties || v.p) - v.d, "
            "property_changes = r.property_changes || %s::jsonb, updated_at = %s "
            "FROM jsonb_to_recordset(%s::jsonb) AS v(id bigint, p jsonb, d text[]) "
            "WHERE r.id = v.id"
        )
        with connection.cursor() as cursor:
            cursor.execute(
                sql,
                [
                    dump_json(changes),
                    updated_at,
                    dump_json([{"id": pk, "p": p, "d": list(d)} for pk, p, d in rows]),
                ],
            )
        return
    # SQLite: json_set/json_remove per property (json_patch would merge nested objects, and a
    # stamp or a value must be replaced whole).
    names = sorted(changes)
    set_paths = ", ".join(["%s, json(%s)"] * len(names))
    stamps = [arg for name in names for arg in (_json_path(name), dump_json(changes[name]))]
    with connection.cursor() as cursor:
        for pk, patch, cleared in rows:
            properties = "properties"
            params: list = []
            if patch:
                properties = f"json_set({properties}, {', '.join(['%s, json(%s)'] * len(patch))})"
                for name, value in patch.items():
                    params += [_json_path(name), dump_json(value)]
            if cleared:
                properties = f"json_remove({properties}, {', '.join(['%s'] * len(cleared))})"
                params += [_json_path(name) for name in cleared]
            cursor.execute(
                f"UPDATE {table} SET properties = {properties}, "
                f"property_changes = json_set(property_changes, {set_paths}), updated_at = %s "
                "WHERE id = %s",
                [*params, *stamps, connection.ops.adapt_datetimefield_value(updated_at), pk],
            )


def _json_path(name: str) -> str:
    """A SQLite JSON path naming one top-level key (property names are [a-z][a-z0-9_]*)."""
    return f'$."{name}"'
