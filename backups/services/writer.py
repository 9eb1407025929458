"""The backup writer: every active record, one CSV per object type in a ZIP, from one snapshot.

On PostgreSQL the whole backup reads one REPEATABLE READ, READ ONLY transaction, so a change
committed while it runs is either entirely in it (committed before the snapshot) or entirely out,
and each object type's rows are streamed by `COPY (SELECT …) TO STDOUT`, block by block, straight
into the ZIP entry: memory stays flat however many records there are. Elsewhere (SQLite, the demo)
rows come from a chunked iterator and are formatted in Python to the same CSV.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from psycopg import sql

from crm.csv_writer import NEUTRALISED_STARTS, QUOTE, CsvWriter, neutralise
from crm.models import ObjectType, Owner, Property, Record

FIXED_COLUMNS = ("id", "created_at", "updated_at")
# Marks a ZIP whose property cells went through crm.csv_writer.neutralise: a backup is a file
# a person may open in a spreadsheet, so text that starts like a formula is quoted; the restore
# reads the mark and undoes exactly that (restore_cell), so values come back as they were.
# Backups written before the mark existed hold raw text and are read as they are.
NEUTRALISED_MARK = b"concord-backup cells=neutralised"
MULTISELECT_SEPARATOR = ";"
ITERATOR_CHUNK_SIZE = 2000


@dataclass(frozen=True, slots=True)
class WrittenBackup:
    snapshot_at: dt.datetime
    counts: dict[str, int]


# The owners records' `owner` values name (by id), so a backup reads on its own. Kept in a
# folder: object type names are letters, digits and underscores, so no type's CSV (csv_name,
# always at the top level) can take this path, not even a custom type named "owners".
OWNERS_CSV = "_concord/owners.csv"
OWNER_COLUMNS = ("id", "name", "email", "is_active")


def csv_name(object_type_name: str) -> str:
    return f"{object_type_name}.csv"


def write_backup_zip(out: BinaryIO) -> WrittenBackup:
    """Write the ZIP of every object type with active records to `out`, from one snapshot."""
    with _snapshot() as snapshot_at:
        types = list(
            ObjectType.objects.filter(
                Exists(Record.objects.filter(object_type=OuterRef("pk"), archived_at__isnull=True))
            ).order_by("is_custom", "pk")
        )
        counts: dict[str, int] = {}
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.comment = NEUTRALISED_MARK
            for object_type in types:
                columns = list(
                    Property.objects.filter(object_type=object_type)
                    .order_by("display_order", "name")
                    .values_list("name", "type")
                )
                # force_zip64: the entry's size is unknown up front and may pass 4 GB.
                with archive.open(csv_name(object_type.name), "w", force_zip64=True) as entry:
                    entry.write(_header(name for name, _ in columns))
                    if connection.vendor == "postgresql":
                        counts[object_type.name] = _copy_rows(entry, object_type, columns)
                    else:
                        counts[object_type.name] = _iterate_rows(entry, object_type, columns)
            with archive.open(OWNERS_CSV, "w") as entry:
                _write_owners(entry)
    return WrittenBackup(snapshot_at=snapshot_at, counts=counts)


@contextmanager
def _snapshot():
    """One read-only transaction whose reads all see the same committed state."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        # Inside a caller's transaction (tests) the isolation level is the caller's to choose;
        # SQLite transactions are serialisable already.
        with transaction.atomic():
            yield timezone.now()
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Must be the first statement of the transaction; now() is the snapshot's time.
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT now()")
            snapshot_at = cursor.fetchone()[0]
        yield snapshot_at


def _write_owners(entry) -> None:
    """Every owner, active or not, by id: what the records' owner values refer to."""
    buffer = io.StringIO()
    writer = CsvWriter(buffer, lineterminator="\n")
    writer.writerow(OWNER_COLUMNS)
    for row in Owner.objects.order_by("pk").values_list(*OWNER_COLUMNS):
        writer.writerow(row)
    entry.write(buffer.getvalue().encode())


def _header(names: Iterable[str]) -> bytes:
    buffer = io.StringIO()
    CsvWriter(buffer, lineterminator="\n").writerow([*FIXED_COLUMNS, *names])
    return buffer.getvalue().encode()


def _copy_rows(entry, object_type: ObjectType, columns: list[tuple[str, str]]) -> int:
    # Each cell's JSON type and text are computed once, in a subquery that OFFSET 0 keeps from
    # being flattened: written inline, neutralising read every property from the JSONB up to
    # four times and halved the backup's rate.
    inner = [
        sql.SQL("r.id"),
        # ISO 8601 with the offset, the same text Python's isoformat() gives.
        sql.SQL("to_json(r.created_at) #>> '{}' AS created_at"),
        sql.SQL("to_json(r.updated_at) #>> '{}' AS updated_at"),
    ]
    outer = [sql.SQL("s.id, s.created_at, s.updated_at")]
    starts = sql.SQL(", ").join(sql.Literal(c) for c in NEUTRALISED_STARTS)
    for i, (name, type_) in enumerate(columns):
        value = sql.SQL("r.properties -> {}").format(sql.Literal(name))
        if type_ == Property.Type.MULTISELECT:
            text = sql.SQL(
                "CASE WHEN jsonb_typeof({v}) = 'array' THEN (SELECT string_agg(e, {sep}) "
                "FROM jsonb_array_elements_text({v}) AS e) ELSE {v} #>> '{{}}' END"
            ).format(v=value, sep=sql.Literal(MULTISELECT_SEPARATOR))
        else:
            text = sql.SQL("{} #>> '{{}}'").format(value)
        kind, cell = sql.Identifier(f"k{i}"), sql.Identifier(f"t{i}")
        inner.append(sql.SQL("jsonb_typeof({}) AS {}").format(value, kind))
        inner.append(sql.SQL("{} AS {}").format(text, cell))
        # crm.csv_writer.neutralise in SQL: numbers stay numbers, other text gets the quote.
        outer.append(
            sql.SQL(
                "CASE WHEN s.{k} = 'number' THEN s.{t} "
                "WHEN left(s.{t}, 1) IN ({starts}) THEN {q} || s.{t} ELSE s.{t} END"
            ).format(k=kind, t=cell, starts=starts, q=sql.Literal(QUOTE))
        )
    statement = sql.SQL(
        "COPY (SELECT {} FROM (SELECT {} FROM crm_record AS r WHERE r.object_type_id = {} "
        "AND r.archived_at IS NULL ORDER BY r.id OFFSET 0) AS s ORDER BY s.id) "
        "TO STDOUT WITH (FORMAT csv)"
    ).format(sql.SQL(", ").join(outer), sql.SQL(", ").join(inner), sql.Literal(object_type.pk))
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor: Django's wrapper has no copy()
        with raw.copy(statement) as copy:
            for block in copy:
                entry.write(block)
        return raw.rowcount


def _iterate_rows(entry, object_type: ObjectType, columns: list[tuple[str, str]]) -> int:
    rows = (
        Record.objects.filter(object_type=object_type, archived_at__isnull=True)
        .order_by("pk")
        .values_list("pk", "created_at", "updated_at", "properties")
        .iterator(chunk_size=ITERATOR_CHUNK_SIZE)
    )
    names = [name for name, _ in columns]
    buffer = io.StringIO()
    # The plain csv writer: cells are already the backup's text (backup_cell), which must
    # match what COPY writes on PostgreSQL byte for byte.
    writer = csv.writer(buffer, lineterminator="\n")
    count = 0
    for pk, created_at, updated_at, properties in rows:
        values = properties or {}
        writer.writerow(
            [pk, created_at.isoformat(), updated_at.isoformat()]
            + [backup_cell(values.get(name)) for name in names]
        )
        count += 1
        if count % ITERATOR_CHUNK_SIZE == 0:
            entry.write(buffer.getvalue().encode())
            buffer.seek(0)
            buffer.truncate()
    entry.write(buffer.getvalue().encode())
    return count


def backup_cell(value: object) -> str:
    """A stored value as the backup's cell: its text, neutralised unless it is a number."""
    text = format_value(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return text
    return neutralise(text)


def format_value(value: object) -> str:
    """A stored property value as CSV text: what COPY prints for the same JSON value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return MULTISELECT_SEPARATOR.join(str(item) for item in value)
    return json.dumps(value, ensure_ascii=False)
