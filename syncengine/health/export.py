"""Sync errors as CSV, streamed straight from the database (H-4): a million errors never sit in
memory, and no model instance is built per row.

PostgreSQL streams the rows with `COPY (SELECT …) TO STDOUT`, as text; other databases
(SQLite) read them in chunks through Django's iterator, as Python values. One row function
turns either into cells for the one CSV writer (crm.csv_writer), which neutralises formulas: a
number and its text, a UTC datetime and its ISO text, are the same cell, so both paths produce
the same bytes, and the same bytes as `error_row` shows for each error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import F, Func, QuerySet, TextField
from django.http import StreamingHttpResponse

from crm.csv_writer import csv_download, iter_csv_chunks
from syncengine.health.selectors import remote_url_of
from syncengine.models import SyncError

COLUMNS = [
    ("id", "Error id"),
    ("label", "Type"),
    ("status", "Status"),
    ("code", "Code"),
    ("message", "Message"),
    ("record", "Concord record id"),
    ("record_type", "Object type"),
    ("remote_object", "Salesforce object"),
    ("remote_id", "Salesforce id"),
    ("remote_url", "Salesforce URL"),
    ("remote_field", "Salesforce field"),
    ("property", "Property"),
    ("details", "Details"),
    ("first_seen", "First seen"),
    ("last_seen", "Last seen"),
    ("occurrences", "Occurrences"),
]
# What the database hands over per error; the row function turns it into the columns above.
FIELDS = [
    "pk",
    "category",
    "status",
    "code",
    "message",
    "record_id",
    "record__object_type__name",
    "remote_object",
    "remote_id",
    "integration__instance_url",
    "remote_field",
    "property_name",
    "details",
    "first_seen_at",
    "last_seen_at",
    "occurrences",
]
# COPY hands every value over as text. Times are written by the database as Python's
# `isoformat()` writes a UTC datetime (microseconds only when there are some), so that no
# datetime is built per row; the CSV cell is the same text either way.
ISO_UTC = (
    "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS')"
    " || CASE WHEN to_char(%(expressions)s AT TIME ZONE 'UTC', 'US') = '000000' THEN ''"
    " ELSE to_char(%(expressions)s AT TIME ZONE 'UTC', '.US') END || '+00:00'"
)
COPIED_AS_TEXT = {"first_seen_at": "first_seen_iso", "last_seen_at": "last_seen_iso"}
DETAILS = 12
CHUNK = 2000


def iter_errors_csv(queryset: QuerySet[SyncError]) -> Iterator[str]:
    """The header, then the errors' lines, a few hundred to a string, as the database sends them."""
    labels = dict(SyncError.Category.choices)
    return iter_csv_chunks(
        [label for _, label in COLUMNS], (_cells(row, labels) for row in _rows(queryset))
    )


def errors_csv_response(queryset: QuerySet[SyncError], *, filename: str) -> StreamingHttpResponse:
    """A streamed CSV download of the errors."""
    return csv_download(iter_errors_csv(queryset), filename=filename)


def _rows(queryset: QuerySet[SyncError]) -> Iterator[tuple]:
    if connections[queryset.db].vendor == "postgresql":
        return _copied_rows(queryset)
    return queryset.values_list(*FIELDS).iterator(chunk_size=CHUNK)


def _copied_rows(queryset: QuerySet[SyncError]) -> Iterator[tuple]:
    """The rows of COPY (SELECT …) TO STDOUT, as text (the JSON details decoded)."""
    values = queryset.annotate(
        **{
            name: Func(F(field), template=ISO_UTC, output_field=TextField())
            for field, name in COPIED_AS_TEXT.items()
        }
    ).values_list(*(COPIED_AS_TEXT.get(field, field) for field in FIELDS))
    try:
        sql, params = values.query.sql_with_params()
    except EmptyResultSet:  # a filter that matches nothing (`.none()`, `pk__in=[]`)
        return
    connection = connections[values.db]
    # Django's cursor wrapper has no COPY; the psycopg cursor it wraps does.
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY ({sql}) TO STDOUT", params) as copy,
    ):
        copy.set_types(["text"] * len(FIELDS))
        for row in copy.rows():
            details = row[DETAILS]
            yield (
                *row[:DETAILS],
                json.loads(details) if details is not None else None,
                *row[DETAILS + 1 :],
            )


def _cells(row: tuple, labels: dict[str, str]) -> list[object]:
    """One error's cells, in COLUMNS' order: what `error_row` shows, from plain values."""
    (
        pk,
        category,
        status,
        code,
        message,
        record_id,
        record_type,
        remote_object,
        remote_id,
        instance_url,
        remote_field,
        property_name,
        details,
        first_seen,
        last_seen,
        occurrences,
    ) = row
    return [
        pk,
        labels.get(category, category),
        status,
        code,
        message,
        record_id,
        record_type if record_id is not None else "",
        remote_object,
        remote_id,
        remote_url_of(instance_url, remote_id),
        remote_field,
        property_name,
        details,
        first_seen,
        last_seen,
        occurrences,
    ]
