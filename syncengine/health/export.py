"""Sync errors as CSV, streamed row by row (H-4): a million errors never sit in memory."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import QuerySet
from django.http import StreamingHttpResponse

from crm.csv_writer import csv_download, iter_csv
from syncengine.health.selectors import error_row
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
CHUNK = 2000


def iter_errors_csv(queryset: QuerySet[SyncError]) -> Iterator[str]:
    """The header, then one line per error, read from the database in chunks."""
    rows = queryset.select_related("record__object_type", "integration").iterator(chunk_size=CHUNK)
    return iter_csv(
        [label for _, label in COLUMNS],
        ([error_row(error)[key] for key, _ in COLUMNS] for error in rows),
    )


def errors_csv_response(queryset: QuerySet[SyncError], *, filename: str) -> StreamingHttpResponse:
    """A streamed CSV download of the errors."""
    return csv_download(iter_errors_csv(queryset), filename=filename)
