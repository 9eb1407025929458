"""The records list built by PostgreSQL (crm.api.record_json) answers exactly what the
serializer does: the same JSON value with the same keys in the same order, the same hidden
properties, the same cursors, in as many queries. Each comparison asks the same URL twice,
once as it is served and once with the database rendering turned off.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from crm import sources
from crm.api import views as record_views
from crm.models import ObjectType, Property, Record
from crm.services.records import RecordInput, write_records
from crm.services.schema import create_property
from tests.factories import UserFactory
from tests.support.roles import grant_role
from tests.support.sync_properties import make_sync

URL = "/api/v1/objects/contacts/records/"
UTC = dt.UTC
TRICKY_TEXT = 'Zoë “quoted” \\ back "slash"\nnew\tline \x01 — 東京 😀 \u2028 \u2029'


@pytest.fixture
def insiders(db):
    return Group.objects.create(name="Insiders")


@pytest.fixture
def varied(contacts, insiders):
    """Contacts holding every kind of value: options, numbers, booleans, nulls, unicode, a
    sync property's copy, a sensitive and a restricted value, a key no property has, archived
    and merged records, times with and without microseconds."""
    create_property(
        object_type=contacts,
        name="interests",
        label="Interests",
        type=Property.Type.MULTISELECT,
        options=[{"value": "ai", "label": "AI"}, {"value": "ml", "label": "ML"}],
    )
    create_property(object_type=contacts, name="score", label="Score", type="number")
    create_property(object_type=contacts, name="vip", label="VIP", type="boolean")
    secret = create_property(object_type=contacts, name="secret_note", label="Secret")
    Property.objects.filter(pk=secret.pk).update(restricted=True)
    secret.restricted_groups.add(insiders)
    make_sync()  # company_name, copied from the contact's company
    ids = write_records(
        object_type=contacts,
        mode="create",
        source=sources.API,
        inputs=[
            RecordInput(
                {
                    "email": f"c{i}@example.com",
                    "firstname": f"Name{i}",
                    "lifecyclestage": "lead",
                    "interests": ["ai", "ml"][: i % 3],
                    "score": i * 1.5,
                    "vip": i % 2 == 0,
                    "date_of_birth": "1990-01-02",
                    "secret_note": f"secret {i}",
                }
            )
            for i in range(6)
        ],
    ).ids
    raw = {  # values as other writers (a sync, a restore, SQL) may leave them
        "email": "raw@example.com",
        "firstname": TRICKY_TEXT,
        "lastname": None,
        "company_name": "Acme (synced)",
        "score": 0.0000001,
        "notes": "",
        "legacy_key": {"nested": [1, 2.5, None, True]},
    }
    Record.objects.filter(pk=ids[0]).update(
        properties=raw, created_at=dt.datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC)
    )
    Record.objects.filter(pk=ids[1]).update(
        properties={}, updated_at=dt.datetime(2024, 5, 6, 7, 8, 9, 120000, tzinfo=UTC)
    )
    Record.objects.filter(pk__in=ids[2:4]).update(
        archived_at=dt.datetime(2025, 1, 1, tzinfo=UTC), merged_into_id=ids[4]
    )
    return ids


@pytest.fixture
def sensitive_insider(db, insiders):
    user = UserFactory()
    user.groups.add(insiders)
    user.user_permissions.add(Permission.objects.get(codename="view_sensitive_values"))
    return grant_role(user, "User")


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def both_paths(client, url, monkeypatch):
    """The answer as served (built by PostgreSQL) and as the serializer gives it."""
    with CaptureQueriesContext(connection) as served_queries:
        served = client.get(url)
    assert any("json_build_object" in q["sql"] for q in served_queries), "not built in SQL"
    with monkeypatch.context() as patch:
        patch.setattr(record_views, "renders_in_database", lambda request: False)
        with CaptureQueriesContext(connection) as python_queries:
            serialized = client.get(url)
    assert not any("json_build_object" in q["sql"] for q in python_queries)
    assert len(served_queries) == len(python_queries)
    return served, serialized


def assert_same_answer(served, serialized) -> None:
    assert (served.status_code, served["Content-Type"]) == (200, "application/json")
    assert (serialized.status_code, serialized["Content-Type"]) == (200, "application/json")
    # Objects as lists of (key, value) pairs: equal only with the same keys in the same order.
    as_pairs = json.loads(served.content, object_pairs_hook=list)
    assert as_pairs == json.loads(serialized.content, object_pairs_hook=list)


@pytest.fixture
def postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("the database builds the JSON on PostgreSQL only")


QUERIES = [
    "",
    "?limit=3",
    "?archived=true",
    "?properties=email,secret_note,date_of_birth,interests,no_such_property",
    "?properties=email,,%20firstname%20",
    "?property.email=raw@example.com",
    "?property.interests=ai",
    "?property.vip=true&created_after=2000-01-01T00:00:00Z",
]


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("who", ["plain", "insider", "superuser"])
def test_the_database_answers_what_the_serializer_does(
    postgresql, varied, user, sensitive_insider, staff_user, who, query, monkeypatch
):
    caller = {"plain": user, "insider": sensitive_insider, "superuser": staff_user}[who]

    served, serialized = both_paths(client_for(caller), URL + query, monkeypatch)

    assert_same_answer(served, serialized)
    assert served.json()["results"], "an empty page would compare nothing"


def test_an_empty_selection_and_an_empty_page_are_the_same(postgresql, varied, user, monkeypatch):
    for query in ("?properties=,", "?property.email=nobody@example.com"):
        assert_same_answer(*both_paths(client_for(user), URL + query, monkeypatch))


def test_cursor_pages_forth_and_back_are_the_same(postgresql, varied, user, monkeypatch):
    client = client_for(user)
    first, _ = both_paths(client, f"{URL}?limit=1&properties=email,firstname", monkeypatch)

    second, second_serialized = both_paths(client, first.json()["next"], monkeypatch)
    back, back_serialized = both_paths(client, second.json()["previous"], monkeypatch)

    assert_same_answer(second, second_serialized)
    assert_same_answer(back, back_serialized)
    assert second.json()["previous"] and second.json()["next"]
    assert back.json()["results"] == first.json()["results"]


def test_values_and_times_come_out_as_the_serializer_writes_them(postgresql, varied, user):
    rows = {r["id"]: r for r in client_for(user).get(URL).json()["results"]}

    raw, empty = rows[varied[0]], rows[varied[1]]
    assert raw["created_at"] == "0999-01-02T03:04:05Z"  # no microseconds: none written
    assert empty["updated_at"] == "2024-05-06T07:08:09.120000Z"
    assert raw["properties"]["firstname"] == TRICKY_TEXT
    assert raw["properties"]["lastname"] is None and raw["properties"]["notes"] == ""
    assert "legacy_key" not in raw["properties"]  # a key no property has is never shown
    assert empty["properties"] == {} and empty["merged_into"] is None
    assert raw["object_type"] == "contacts" and raw["archived"] is False


def test_line_separators_are_escaped_as_drf_escapes_them(postgresql, varied, user):
    body = client_for(user).get(f"{URL}?property.email=raw@example.com").content

    assert "\u2028".encode() not in body and "\u2029".encode() not in body
    assert b"\\u2028 \\u2029" in body


@pytest.mark.parametrize("path", ["served", "serialized"])
def test_hidden_properties_never_reach_a_caller_who_may_not_see_them(
    varied, user, sensitive_insider, path, monkeypatch
):
    named = grant_role(UserFactory(), "User")  # the restricted property names this user
    Property.objects.get(name="secret_note").restricted_users.add(named)
    if path == "serialized":
        monkeypatch.setattr(record_views, "renders_in_database", lambda request: False)
    asked = f"{URL}?properties=email,secret_note,date_of_birth"

    def shown(caller) -> set[str]:
        rows = client_for(caller).get(asked).json()["results"]
        return set().union(*(r["properties"] for r in rows))

    assert shown(user) == {"email"}
    assert shown(named) == {"email", "secret_note"}  # named, but not allowed sensitive values
    assert shown(sensitive_insider) == {"email", "secret_note", "date_of_birth"}


@pytest.mark.parametrize("path", ["served", "serialized"])
@pytest.mark.parametrize("restricted", [False, True])
def test_list_queries_are_pinned_and_do_not_grow_with_rows(
    contacts, user, path, restricted, monkeypatch
):
    if restricted:
        Property.objects.filter(object_type=contacts, name="jobtitle").update(restricted=True)
    if path == "serialized":
        monkeypatch.setattr(record_views, "renders_in_database", lambda request: False)
    client = client_for(user)
    write_records(
        object_type=contacts,
        mode="create",
        source=sources.API,
        inputs=[RecordInput({"email": f"c{i}@example.com"}) for i in range(3)],
    )
    with CaptureQueriesContext(connection) as few:
        assert client.get(URL).status_code == 200
    write_records(
        object_type=contacts,
        mode="create",
        source=sources.API,
        inputs=[RecordInput({"email": f"d{i}@example.com"}) for i in range(40)],
    )
    with CaptureQueriesContext(connection) as many:
        assert len(client.get(URL).json()["results"]) == 43

    # On PostgreSQL: the token with its user's permissions, the object type with who may see
    # which property, the records. Elsewhere the permissions (2) and who may see which
    # property are queries of their own. A restricted property adds its users, its groups and
    # the caller's groups.
    expected = 3 if connection.vendor == "postgresql" else 6
    assert len(many) == len(few) == expected + (3 if restricted else 0)


def test_the_browsable_api_and_indented_json_are_still_served(postgresql, varied, user):
    client = client_for(user)

    html = client.get(URL, HTTP_ACCEPT="text/html")
    indented = client.get(URL, HTTP_ACCEPT="application/json; indent=2")

    assert html.status_code == 200 and html["Content-Type"].startswith("text/html")
    assert indented.content.startswith(b'{\n  "next"')
    assert indented.json() == client.get(URL).json()


def test_other_object_types_show_their_own_name(postgresql, crm_schema, user):
    companies = ObjectType.objects.get(name="companies")
    write_records(
        object_type=companies,
        mode="create",
        source=sources.API,
        inputs=[RecordInput({"name": "Acme"})],
    )

    rows = client_for(user).get("/api/v1/objects/companies/records/").json()["results"]

    assert [(r["object_type"], r["properties"]) for r in rows] == [("companies", {"name": "Acme"})]
