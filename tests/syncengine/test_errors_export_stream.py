"""The sync errors CSV export streamed from the database (COPY on PostgreSQL, a chunked cursor
elsewhere): byte for byte what rendering each error with `error_row` gives, formulas included.

The suite runs these on SQLite (DATABASE_URL unset) and on PostgreSQL: each path is checked
against the same reference on the same rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.db import connection

from crm.csv_writer import iter_csv
from crm.services.records import create_record
from syncengine.health import export
from syncengine.health.selectors import error_row, list_errors
from syncengine.models import SyncError
from tests.factories import IntegrationFactory, SyncErrorFactory

pytestmark = pytest.mark.django_db

ERRORS = "/api/v1/sync-errors/export/"
TRICKY_TEXTS = [
    '=HYPERLINK("http://x", "click")',
    "+1 555 0100",
    "-5",
    "@SUM(A1:A2)",
    "\tleading tab",
    "\rleading carriage return",
    "'already quoted",
    "plain, with a comma",
    'with "double" quotes',
    "two\nlines",
    "crlf\r\ninside",
    "Ünïcödé — 東京 ✓",
    "",
    "\\.",
]


def reference_csv(queryset) -> bytes:
    """Today's rendering: each error as a model, through `error_row`, line by line."""
    rows = queryset.select_related("record__object_type", "integration")
    return "".join(
        iter_csv(
            [label for _, label in export.COLUMNS],
            ([error_row(error)[key] for key, _ in export.COLUMNS] for error in rows),
        )
    ).encode()


def exported_csv(queryset) -> bytes:
    return "".join(export.iter_errors_csv(queryset)).encode()


@pytest.fixture
def tricky_errors(contacts):
    """Errors whose every text column holds something a CSV writer can get wrong."""
    integration = IntegrationFactory(name="=Org", instance_url="https://x.my.salesforce.com/")
    bare = IntegrationFactory(name="bare", instance_url="")
    ada = create_record(
        object_type=contacts, properties={"firstname": "Ada", "email": "ada@x.com"}, source="user"
    )
    seen = dt.datetime(2027, 1, 15, 8, 30, 5, 123456, tzinfo=dt.UTC)
    for i, text in enumerate(TRICKY_TEXTS):
        SyncErrorFactory(
            integration=integration if i % 3 else bare,
            category=SyncError.Category.values[i % len(SyncError.Category.values)],
            code=text or "EMPTY",
            message=text,
            record=ada if i % 2 else None,
            object_type=contacts if i % 2 else None,
            remote_object=text,
            remote_id=f"003{i:015d}" if i % 4 else "",
            remote_field=text,
            property_name=text,
            details={"zeta": text, "alpha": [1, 2.5, None, True], "ключ": {"b": "=1", "a": -1}}
            if i % 5
            else {},
            first_seen_at=seen - dt.timedelta(days=i),
            # Whole seconds too: isoformat leaves the microseconds out then.
            last_seen_at=seen.replace(microsecond=0) - dt.timedelta(hours=i),
            occurrences=i + 1,
            status="resolved" if i == 3 else "open",
        )
    return SyncError.objects.order_by("-last_seen_at", "-pk")


def test_the_streamed_export_is_byte_identical_to_rendering_each_error(tricky_errors):
    assert exported_csv(tricky_errors) == reference_csv(tricky_errors)


def test_the_streamed_export_neutralises_every_formula_start(tricky_errors):
    text = exported_csv(tricky_errors).decode()

    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    messages = dict(tricky_errors.values_list("pk", "message"))
    assert len(rows) == len(TRICKY_TEXTS)
    for row in rows:
        message = messages[int(row["Error id"])]
        if message[:1] in ("=", "+", "-", "@", "\t", "\r", "'"):
            assert row["Message"] == "'" + message
            assert row["Property"] == "'" + message
        else:
            assert row["Message"] == message
    assert sum(row["Message"].startswith("'") for row in rows) == 7
    # Numbers Concord wrote stay numbers; JSON is text, neutralised as a whole if need be.
    assert {row["Occurrences"] for row in rows} == {str(i + 1) for i in range(len(TRICKY_TEXTS))}


def test_a_filtered_and_ordered_export_keeps_its_rows_and_order(tricky_errors):
    queryset = tricky_errors.filter(status="open", record__isnull=False).order_by("occurrences")

    exported = exported_csv(queryset)

    assert exported == reference_csv(queryset)
    assert exported.count(b"\r\n") > queryset.count()  # header + rows, plus quoted CR LFs
    assert exported.decode().startswith("Error id,Type,Status,")


def test_an_empty_export_is_its_header(tricky_errors):
    assert exported_csv(tricky_errors.none()) == reference_csv(tricky_errors.none())
    assert exported_csv(SyncError.objects.filter(code="nothing")).count(b"\r\n") == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")
def test_copy_text_and_the_orms_values_make_the_same_csv(tricky_errors):
    labels = dict(SyncError.Category.choices)

    def rendered(rows) -> str:
        return "".join(iter_csv([], (export._cells(row, labels) for row in rows)))

    copied = rendered(export._copied_rows(tricky_errors))

    assert copied == rendered(tricky_errors.values_list(*export.FIELDS))
    assert "+00:00" in copied and ".123456+00:00" in copied


def test_the_api_export_streams_the_same_bytes(staff_api_client, tricky_errors):
    response = staff_api_client.get(ERRORS)

    assert response.status_code == 200 and response.streaming
    assert b"".join(response.streaming_content) == reference_csv(list_errors())
    assert list_errors().count() == len(TRICKY_TEXTS) - 1  # the resolved one is left out
