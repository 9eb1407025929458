"""Integers past 64 bits and datetimes that overflow in UTC never reach the database: ids in
bodies and filter values are a 400 naming the field, on SQLite (which raised OverflowError) and
PostgreSQL alike; nothing is written. (Ids in paths are already a 404 on both: Django answers an
exact lookup past the column's range with no rows.)"""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

from config.bounds import MAX_ID, bound_problem, parse_id
from crm import sources
from crm.models import Association, AuditEvent, Record
from crm.services.records import create_record
from notifications.models import Notification
from syncengine.models import FieldMapping, Integration, SyncError
from tests.factories import IntegrationFactory

PAST_64_BITS = str(2**64)
HUGE = "1" + "0" * 30
DATETIME_EDGES = ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+01:00"]


@pytest.fixture
def integration(db):
    return IntegrationFactory(name="Acme org")


@pytest.fixture
def contact(contacts):
    return create_record(object_type=contacts, source=sources.API, properties={"email": "a@x.io"})


def counts():
    return (
        Record.objects.count(),
        Association.objects.count(),
        AuditEvent.objects.count(),
        FieldMapping.objects.count(),
        SyncError.objects.count(),
        Notification.objects.filter(read_at__isnull=False).count(),
        list(Integration.objects.values_list("api_allocation", flat=True)),
    )


def test_parse_id_takes_only_ascii_digits_within_64_bits():
    assert parse_id("42") == 42
    assert parse_id(str(MAX_ID)) == MAX_ID
    for raw in ("", "0", "-1", str(MAX_ID + 1), HUGE, "²", "١٢", "1.0", " 1", None):
        assert parse_id(raw) is None, raw


def test_bound_problem_names_what_the_database_cannot_hold():
    assert bound_problem(MAX_ID) is None
    assert "must be between" in bound_problem(MAX_ID + 1)
    assert "must be between" in bound_problem([1, -(2**63) - 1])
    assert "must be between" in bound_problem(slice(1, 2**70))
    assert bound_problem(True) is None


INTEGER_FILTERS = [
    "/api/v1/associations/?record={n}",
    "/api/v1/audit-events/?target_id={n}",
    "/api/v1/sync-stages/?integration={n}",
    "/api/v1/sync-stages/export/?integration={n}",
    "/api/v1/sync-errors/?integration={n}",
    "/api/v1/sync-errors/?record={n}",
    "/api/v1/sync-errors/export/?integration={n}",
]


@pytest.mark.parametrize("url", INTEGER_FILTERS)
@pytest.mark.parametrize("n", [PAST_64_BITS, HUGE, "-" + PAST_64_BITS, "²"])
def test_integer_filters_past_64_bits_are_a_400(staff_api_client, crm_schema, url, n):
    response = staff_api_client.get(url.format(n=n))
    assert response.status_code == 400, response.content[:300]
    name = url.split("?")[1].split("=")[0]
    assert name in response.json()["errors"]


DATETIME_FILTERS = [
    "/api/v1/objects/contacts/records/?updated_after={d}",
    "/api/v1/objects/contacts/records/?created_before={d}",
    "/api/v1/audit-events/?since={d}",
    "/api/v1/sync-stages/?started_after={d}",
]


@pytest.mark.parametrize("url", DATETIME_FILTERS)
@pytest.mark.parametrize("edge", DATETIME_EDGES)
def test_datetime_filters_past_the_range_in_utc_are_a_400(staff_api_client, contact, url, edge):
    response = staff_api_client.get(url.format(d=edge.replace("+", "%2B")))
    assert response.status_code == 400, response.content[:300]
    name = url.split("?")[1].split("=")[0]
    assert "out of range" in response.json()["errors"][name][0]


@pytest.mark.parametrize("url", DATETIME_FILTERS)
def test_datetime_filters_with_offsets_past_postgresqls_still_filter(
    staff_api_client, contact, url
):
    # ISO 8601 allows offsets up to ±23:59, PostgreSQL only ±15:59: the filter compares in UTC.
    response = staff_api_client.get(url.format(d="1786-11-24T11:36:27-21:06"))
    assert response.status_code == 200, response.content[:300]
    later = staff_api_client.get(url.format(d="9999-12-30T11:36:27%2B21:06"))
    assert later.status_code == 200, later.content[:300]


def test_filters_within_the_bounds_still_filter(staff_api_client, contact):
    response = staff_api_client.get(
        "/api/v1/objects/contacts/records/?updated_after=9999-12-31T23:59:59Z"
    )
    assert response.status_code == 200
    assert response.json()["results"] == []
    response = staff_api_client.get(f"/api/v1/audit-events/?target_id={MAX_ID}")
    assert response.status_code == 200
    assert response.json()["results"] == []


def _bodies(contact, integration):
    c = contact.pk
    return [
        (
            "post",
            "/api/v1/associations/",
            {"from_record": int(HUGE), "to_record": c},
            "from_record",
        ),
        (
            "post",
            "/api/v1/associations/",
            {"from_record": c, "to_record": c, "definition": 2**63},
            "definition",
        ),
        (
            "post",
            "/api/v1/objects/contacts/records/batch/",
            {"action": "update", "inputs": [{"id": 2**63, "properties": {"firstname": "x"}}]},
            "inputs",
        ),
        ("post", "/api/v1/sync-errors/resync/", {"ids": [int(HUGE)]}, "ids"),
        ("post", "/api/v1/notifications/mark-read/", {"ids": [2**64]}, "ids"),
        (
            "post",
            "/api/v1/restores/",
            {"backup": 2**64, "object_type": "contacts", "properties": ["email"]},
            "backup",
        ),
        (
            "post",
            f"/api/v1/integrations/{integration.pk}/mappings/",
            {"object_mapping": 2**64, "property": "email", "remote_field": "Email"},
            "object_mapping",
        ),
        (
            "patch",
            f"/api/v1/integrations/{integration.pk}/mappings/",
            {"field_mappings": [{"id": 2**64, "rule": "two_way"}]},
            "field_mappings",
        ),
        # Integration.api_allocation is 32 bits: PostgreSQL refused 2**31 with a 500.
        (
            "patch",
            f"/api/v1/integrations/{integration.pk}/api-usage/",
            {"allocated": 2**31},
            "allocated",
        ),
        (
            "patch",
            f"/api/v1/integrations/{integration.pk}/",
            {"api_allocation": 2**31},
            "api_allocation",
        ),
    ]


def test_ids_past_64_bits_in_bodies_are_a_400_naming_the_field(
    staff_api_client, contact, integration
):
    before = counts()
    for method, url, body, field in _bodies(contact, integration):
        response = getattr(staff_api_client, method)(url, body, format="json")
        assert response.status_code == 400, (url, response.content[:300])
        assert field in response.json()["errors"], (url, response.json())
    assert counts() == before


# A related field's lookup is an exact match, which Django answers "does not exist" for any integer.
PRIMARY_KEY_RELATED = {"IntegrationSettingRequest.integration"}


def test_every_integer_in_a_request_body_has_bounds():
    # A new serializer with an unbounded IntegerField fails here, before a fuzzer finds the 500.
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    stack = [
        (f"{method.upper()} {path}", media["schema"])
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        for media in operation.get("requestBody", {}).get("content", {}).values()
    ]
    unbounded, seen = set(), set()
    while stack:
        where, node = stack.pop()
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[1]
            if name not in seen:
                seen.add(name)
                stack.append((name, components[name]))
            continue
        if node.get("type") == "integer" and "maximum" not in node and "enum" not in node:
            unbounded.add(where)
        for key, child in (node.get("properties") or {}).items():
            stack.append((f"{where}.{key}", child))
        for child in node.get("allOf", []) + node.get("oneOf", []):
            stack.append((where, child))
        if isinstance(node.get("items"), dict):
            stack.append((where, node["items"]))
    assert unbounded - PRIMARY_KEY_RELATED == set()
