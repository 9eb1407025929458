"""The sync errors export on PostgreSQL (issue 18): one COPY writes the same bytes as the Python
path for every error type and details shape, names, links and sentences, neutralised formulas
and quoted text; filters apply the same way; the answer is streamed in chunks; the API and the
admin both take it."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm.csv_writer import iter_copy_csv
from syncengine.health import export
from syncengine.health.selectors import list_errors
from syncengine.models import RecordLink, SyncError, SyncErrorAffectedRecord
from tests.factories import GoogleIntegrationFactory, IntegrationFactory, ObjectMappingFactory
from tests.support.error_chains import deals_waiting_for_a_broken_company, named, waiting_for

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

INSTANCE = "https://acme.my.salesforce.com/"
EXPORT = "/api/v1/sync-errors/export/"
SECOND = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.UTC)  # no microseconds: isoformat drops them
_seen = itertools.count()


def error(integration, *, record=None, affected=(), **fields) -> SyncError:
    """An error row as the engine stores it, each one a second older than the last."""
    defaults = {
        "category": "other",
        "code": "UNKNOWN",
        "message": "Something failed",
        "details": {},
        "first_seen_at": SECOND,
        "last_seen_at": SECOND
        - dt.timedelta(seconds=next(_seen), microseconds=fields.pop("us", 0)),
        "key": uuid.uuid4().hex,
    }
    created = SyncError.objects.create(
        integration=integration, record=record, **{**defaults, **fields}
    )
    SyncErrorAffectedRecord.objects.bulk_create(
        SyncErrorAffectedRecord(error=created, record=r) for r in affected
    )
    return created


def python_bytes(queryset) -> bytes:
    return "".join(export.iter_errors_csv_python(queryset)).encode()


def copy_bytes(queryset) -> bytes:
    return b"".join(export.iter_errors_csv_copy(queryset))


@pytest.fixture
def org(crm_schema, deals, companies):
    integration = IntegrationFactory(name="Acme org", instance_url=INSTANCE)
    ObjectMappingFactory(integration=integration, object_type=deals, remote_object="Opportunity")
    ObjectMappingFactory(integration=integration, object_type=companies, remote_object="Account")
    return integration


@pytest.fixture
def every_shape(org, crm_schema, contacts, deals, companies):
    """Errors of every type, details shape, name, link and sentence the export writes."""
    google = GoogleIntegrationFactory(name="Google")
    bare = IntegrationFactory(name="No instance", instance_url="")
    person = named(contacts, firstname="Zoë", lastname="Ångström", email="z@x.com")
    only_email = named(contacts, email="=cmd|' /C calc'!A0")
    formula_deal = named(deals, dealname='-Acme, "big"\nrenewal')
    unnamed = named(companies)
    numbered = named(companies, name=4711)
    truthy = named(companies, name=True)
    for i, category in enumerate(SyncError.Category.values):
        error(
            org,
            category=category,
            code=f"CODE_{i}",
            record=person,
            remote_object="Contact",
            remote_id=f"003{i:015d}",
            remote_field="LastName",
            property_name="lastname",
            details={"fields": ["LastName"], "statusCode": f"CODE_{i}"},
        )
    messages = [
        '=HYPERLINK("http://x", 1), then\nmore',
        "+1",
        "-5",
        "@SUM(A1)",
        "\tTabbed",
        "\rReturn",
        "'quoted already",
        'Say "hi", then\r\nbye',
        "Ünïcödé ✓ 日本語",
        "",
    ]
    for message in messages:
        error(org, message=message, record=formula_deal, category="custom_code")
    details = [
        {"statusCode": "OTHER_CODE", "fields": []},
        {"value": None, "fields": [], "extra": {}, "note": ""},
        {"value": "-1", "target_remote_id": "001000000000001", "duplicate_id": "003x"},
        {"flag": True, "off": False, "count": 0, "big": 12345678901234567890, "neg": -3},
        {"list": ["a", None, "", True, 7], "empty_list": ["", None], "snake_case_KEY": "v"},
        {"=formula": "=1+1", "fields": ["Name", "Industry"]},
        {"price": 1.5, "ratio": 100000.0},  # Python's str() of floats
        {"nested": {"a": 1, "b_c": [1, 2]}, "deep": [[1], {"x": None}]},
        {"clé": "non-ASCII key", "ß": 1},
        ["a", "list"],
        "",
    ]
    for shape in details:
        error(org, details=shape, record=unnamed, category="property_values", code="OTHER")
    # Names: unnamed, numbered, boolean, no record, a float name (Python writes it).
    error(org, record=only_email, message="named by its email")
    error(org, record=numbered, message="numbered")
    error(org, record=truthy, message="truthy")
    error(org, record=None, message="no record", remote_id="a b/é?", remote_object="Custom__c")
    error(org, record=named(companies, name=2.50), message="float name")
    error(org, record=named(companies, name=["a"]), message="list name")
    error(org, record=named(contacts, firstname="", lastname=None, email="e@x.com"))
    # Links: Google people ids, no instance URL, no remote object, microseconds.
    error(google, remote_id="people/c1 2", remote_object="person", message="google", us=123)
    error(google, remote_id="c345", message="google plain", us=500000)
    error(bare, remote_id="001000000000001", remote_object="Account", message="bare")
    error(org, remote_id="001000000000001", remote_object="", message="no remote object")
    # Association chains: an own error, a waiting blocker, not in the remote, no waiting
    # records, several waiting records, a linked waiting record.
    company, *_ = deals_waiting_for_a_broken_company(org, deals, companies, name="Globex", n=3)
    child = named(companies, name="Child Co")
    waiting_for(org, company, [child])
    waiting_for(org, child, [named(deals, dealname="Child deal")])
    waiting_for(org, named(companies, name="New Co"), [named(deals, dealname="Fresh deal")])
    error(
        org,
        category="associations",
        code="ASSOCIATED_RECORD_NOT_SYNCED",
        record=named(companies, name="Alone"),
        message="nobody waits",
    )
    linked = named(deals, dealname="Linked deal")
    RecordLink.objects.create(
        integration=org,
        object_mapping=org.object_mappings.get(remote_object="Opportunity"),
        record=linked,
        remote_object="Opportunity",
        remote_id="006000000000001AAA",
    )
    waiting_for(org, named(companies, name="Linked Co"), [linked])
    waiting_for(org, named(companies, name=0.5), [named(deals, dealname="Waits for a float")])
    waiting_for(org, named(companies, name="Waits"), [named(deals, dealname={"odd": 1})])
    # Resolved errors are only exported when asked for.
    error(org, status="resolved", message="resolved", record=person)
    return org


def test_copy_writes_the_python_paths_bytes_for_every_shape(every_shape):
    for status in (None, "resolved", "resyncing"):
        queryset = list_errors(status=status)
        expected = python_bytes(queryset)
        assert copy_bytes(queryset) == expected, status
    assert len(python_bytes(list_errors()).splitlines()) > 50  # the set is really there


def test_sql_writes_the_common_rows_and_python_only_the_odd_ones(every_shape, monkeypatch):
    rendered = []
    render = export.render_raw_row

    def spy(raw):
        rendered.append(raw)
        return render(raw)

    monkeypatch.setattr(export, "render_raw_row", spy)
    copy_bytes(list_errors())

    odd = (
        '"price"',
        '"nested"',
        '"clé"',
        '["a", "list"]',
        '"name": 2.5',
        '"name": ["a"]',
        '"name": 0.5',
        '"dealname": {"odd": 1}',
        '"details": ""',
    )
    assert 0 < len(rendered) <= 2 * len(odd)
    assert all(any(mark in raw for mark in odd) for raw in rendered)


def test_filters_apply_the_same_way_on_both_paths(every_shape):
    from tests.factories import SyncCycleFactory, SyncStageFactory

    record = SyncError.objects.filter(message="numbered").get().record_id
    seen = list(list_errors(integration=every_shape).values_list("last_seen_at", flat=True))
    stage = SyncStageFactory(  # a stage that saw the 5th to the 15th newest errors
        cycle=SyncCycleFactory(integration=every_shape),
        integration=every_shape,
        started_at=seen[15],
        ended_at=seen[5],
    )
    filters = [
        {"integration": every_shape},
        {"category": "associations"},
        {"category": "property_values", "integration": every_shape},
        {"record": record},
        {"stage": stage},
        {"ids": list(SyncError.objects.values_list("pk", flat=True)[:5])},
    ]
    for given in filters:
        queryset = list_errors(**given)
        lines = python_bytes(queryset).count(b"\r\n")
        assert copy_bytes(queryset) == python_bytes(queryset), given
        assert 1 < lines < python_bytes(list_errors()).count(b"\r\n"), given


def test_the_api_and_the_admin_stream_the_copy(org, staff_api_client, staff_user, monkeypatch):
    # Given more errors than one chunk holds
    now = timezone.now()
    SyncError.objects.bulk_create(
        SyncError(
            integration=org,
            category="other",
            code="X",
            message=f'=msg {i}, "q"',
            details={"fields": ["A"]},
            first_seen_at=now,
            last_seen_at=now,
            key=str(i),
        )
        for i in range(4500)
    )

    def no_python_path(queryset):
        raise AssertionError("PostgreSQL exports with COPY")

    monkeypatch.setattr(export, "iter_errors_csv_python", no_python_path)
    admin = Client()
    admin.force_login(staff_user)
    requests = [
        lambda: staff_api_client.get(EXPORT, {"integration": org.pk}),
        lambda: admin.get(reverse("admin:syncengine_integration_health_export", args=[org.pk])),
    ]
    for request in requests:  # one at a time: a COPY holds the connection until it is read
        response = request()
        assert response.status_code == 200
        assert isinstance(response, StreamingHttpResponse)
        chunks = list(response.streaming_content)
        # The header, then a chunk per 2,000 rows: never the whole export at once.
        assert [chunk.count(b"\r\n") for chunk in chunks] == [1, 2000, 2000, 500]
        assert b'\'=msg 4499, ""q"""' in b"".join(chunks)


def test_an_export_closed_early_leaves_the_connection_usable(org):
    now = timezone.now()
    SyncError.objects.bulk_create(
        SyncError(
            integration=org,
            category="other",
            code="X",
            message=str(i),
            details={},
            first_seen_at=now,
            last_seen_at=now,
            key=str(i),
        )
        for i in range(5000)
    )
    lines = export.iter_errors_csv_copy(list_errors())
    next(lines), next(lines)
    lines.close()  # the download was cancelled

    assert SyncError.objects.count() == 5000
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_rows_written_in_python_keep_their_place(org):
    header = ["a", "b"]
    rows = [b",1,x\n", b'"raw",2,\n', b',3,"multi\nline"\n']

    out = b"".join(iter_copy_csv(header, rows, render_row=lambda raw: [raw, "=2"]))

    assert out == b'a,b\r\n1,x\r\nraw,\'=2\r\n3,"multi\nline"\r\n'
