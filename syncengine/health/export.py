"""Sync errors as CSV, streamed row by row (H-4): a million errors never sit in memory."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator

from django.db.models import QuerySet
from django.http import StreamingHttpResponse

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


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: object) -> object:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value  # a spreadsheet must not run a formula from Salesforce's text
    return "" if value is None else value


def iter_errors_csv(queryset: QuerySet[SyncError]) -> Iterator[str]:
    """The header, then one line per error, read from the database in chunks."""
    writer = csv.writer(_Echo())
    yield writer.writerow([label for _, label in COLUMNS])
    rows = queryset.select_related("record__object_type", "integration").iterator(chunk_size=CHUNK)
    for error in rows:
        row = error_row(error)
        yield writer.writerow([_cell(row[key]) for key, _ in COLUMNS])


def errors_csv_response(queryset: QuerySet[SyncError], *, filename: str) -> StreamingHttpResponse:
    """A streamed CSV download of the errors."""
    response = StreamingHttpResponse(
        iter_errors_csv(queryset), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
