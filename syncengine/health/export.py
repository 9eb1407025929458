"""Sync errors as CSV, streamed row by row (H-4): a million errors never sit in memory."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice

from django.db.models import QuerySet
from django.http import StreamingHttpResponse

from crm.csv_writer import csv_download, iter_csv_chunks
from syncengine.health.rows import error_rows
from syncengine.health.selectors import with_page_details
from syncengine.models import SyncError

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
CHUNK = 2000


def _rows(queryset: QuerySet[SyncError]) -> Iterator[list]:
    """The errors' CSV lines, named a chunk at a time (a few queries per 2,000 errors)."""
    errors = with_page_details(queryset).iterator(chunk_size=CHUNK)
    while chunk := list(islice(errors, CHUNK)):
        for row in error_rows(chunk):
            yield [row.get(key, "") for key, _ in COLUMNS]


def iter_errors_csv(queryset: QuerySet[SyncError]) -> Iterator[str]:
    """The header, then one line per error, read from the database in chunks."""
    return iter_csv_chunks([label for _, label in COLUMNS], _rows(queryset))


def errors_csv_response(queryset: QuerySet[SyncError], *, filename: str) -> StreamingHttpResponse:
    """A streamed CSV download of the errors."""
    return csv_download(iter_errors_csv(queryset), filename=filename)
