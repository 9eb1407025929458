"""Sync errors as CSV, streamed (H-4): a million errors never sit in memory.

On PostgreSQL the rows come straight from the database (`COPY … TO STDOUT`, the columns built
in SQL by `export_sql`); elsewhere they are read a chunk at a time and named in Python. Both
write the same bytes for the same errors.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from itertools import islice

from django.db import connections
from django.db.models import QuerySet
from django.http import StreamingHttpResponse

from crm.csv_writer import csv_download, iter_copy_csv, iter_copy_rows, iter_csv_chunks
from crm.models import ObjectType, Record
from syncengine.health.export_sql import export_statement
from syncengine.health.rows import PageNames, error_row, error_rows
from syncengine.health.selectors import with_page_details
from syncengine.models import Integration, SyncError

# The message a person reads leads; codes and ids follow for those who filter on them.
COLUMNS = [
    ("id", "Error id"),
    ("label", "Type"),
    ("status_label", "Status"),
    ("summary", "Message"),
    ("code", "Code"),
    ("listed_record_label", "Record"),
    ("listed_record", "Concord record id"),
    ("record_type", "Object type"),
    ("blocking_record_label", "Blocking record"),
    ("remote_object", "Salesforce object"),
    ("remote_id", "Salesforce id"),
    ("remote_url", "Salesforce URL"),
    ("remote_field", "Salesforce field"),
    ("property", "Property"),
    ("details_text", "Details"),
    ("first_seen", "First seen"),
    ("last_seen", "Last seen"),
    ("occurrences", "Occurrences"),
]
HEADER = [label for _, label in COLUMNS]
CHUNK = 2000


def _rows(queryset: QuerySet[SyncError]) -> Iterator[list]:
    """The errors' CSV lines, named a chunk at a time (a few queries per 2,000 errors)."""
    errors = with_page_details(queryset).iterator(chunk_size=CHUNK)
    while chunk := list(islice(errors, CHUNK)):
        for row in error_rows(chunk):
            yield [row.get(key, "") for key, _ in COLUMNS]


def iter_errors_csv_python(queryset: QuerySet[SyncError]) -> Iterator[str]:
    """The header, then one line per error, read from the database in chunks and named in
    Python (any database)."""
    return iter_csv_chunks(HEADER, _rows(queryset))


def iter_errors_csv_copy(queryset: QuerySet[SyncError]) -> Iterator[bytes]:
    """The same bytes as `iter_errors_csv_python`, from one COPY (PostgreSQL only)."""
    statement, params = export_statement(queryset)
    rows = iter_copy_rows(using=queryset.db, statement=statement, params=params)
    return iter_copy_csv(HEADER, rows, render_row=render_raw_row)


def iter_errors_csv(queryset: QuerySet[SyncError]) -> Iterator[str | bytes]:
    """The errors' CSV: header, then one line per error, in the queryset's order."""
    if connections[queryset.db].vendor == "postgresql":
        return iter_errors_csv_copy(queryset)
    return iter_errors_csv_python(queryset)


def errors_csv_response(queryset: QuerySet[SyncError], *, filename: str) -> StreamingHttpResponse:
    """A streamed CSV download of the errors."""
    return csv_download(iter_errors_csv(queryset), filename=filename)


def render_raw_row(raw: str) -> list:
    """A row SQL left to Python (see export_sql): its values, by the Python path's own code,
    from the fields the COPY sent (no query: the COPY holds the connection)."""
    data = json.loads(raw)
    integration = Integration(**data["integration"])
    fields = data["error"]
    del fields["integration_id"], fields["record_id"]  # as the instances below
    for name in ("first_seen_at", "last_seen_at"):
        fields[name] = dt.datetime.fromisoformat(fields[name])
    error = SyncError(**fields, integration=integration, record=_record(data["record"]))
    error.affected_count = data["affected_count"]
    names = PageNames()
    if (first := _record(data["first_affected"])) is not None:
        names.first_affected[error.pk] = first
        if data["link"]:
            names.remote_of[(integration.pk, first.pk)] = tuple(data["link"])
    if data["own"]:
        names.own_error[error.record_id] = SyncError(**data["own"])
    if waiting := data["waiting"]:
        record = _record(waiting.pop("record"))
        names.waits_on[error.record_id] = SyncError(**waiting, record=record)
    row = error_row(error, names)
    return [row.get(key, "") for key, _ in COLUMNS]


def _record(data: dict | None) -> Record | None:
    if data is None:
        return None
    return Record(
        id=data["id"], properties=data["properties"], object_type=ObjectType(**data["type"])
    )
