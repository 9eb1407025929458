"""Request bodies the API cannot accept are refused at parsing, for every endpoint: a 400 (or a
413 past the size limits) with the project's error body, and nothing written."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from config.parsers import MAX_DEPTH, BodyRefused, check_parsed
from crm.models import Association, AuditEvent, ObjectType, Property, Record
from tests.factories import IntegrationFactory
from tests.support.counts import table_counts

RECORDS = "/api/v1/objects/contacts/records/"
TOKEN = "/api/v1/auth/token/"


def counts():
    return table_counts(Record, Property, ObjectType, Association, AuditEvent, Token)


def nested_arrays(depth: int) -> str:
    return "[" * depth + "]" * depth


def nested_objects(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


# Far past Python's recursion limit (the parser used to raise RecursionError: a 500), and just
# past the bound (which Python alone would have parsed).
DEEP_BODIES = {
    "arrays_5000": nested_arrays(5000),
    "objects_5000": nested_objects(5000),
    "properties_100000": '{"properties": ' + nested_arrays(100_000) + "}",
    "arrays_just_past_the_bound": nested_arrays(MAX_DEPTH + 1),
    "objects_just_past_the_bound": '{"properties": ' + nested_objects(MAX_DEPTH) + "}",
}

WRITING_ENDPOINTS = [
    ("post", RECORDS),
    ("post", RECORDS + "batch/"),
    ("post", "/api/v1/associations/"),
    ("post", "/api/v1/object-types/"),
    ("post", "/api/v1/object-types/contacts/properties/"),
    ("patch", "/api/v1/notification-settings/"),
    ("post", "/api/v1/sync-errors/resync/"),
]


def assert_refused(response, field: str, fragment: str, status: int = 400) -> None:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert fragment in body["detail"]
    if status == 400:
        assert body["detail"].startswith(f"{field}: ")
    errors = body["errors"]
    for key in field.split("."):  # nested like DRF's errors: {"properties": {"note": [...]}}
        assert list(errors) == [key]
        errors = errors[key]
    assert fragment in errors[0]


@pytest.mark.parametrize("body", DEEP_BODIES.values(), ids=DEEP_BODIES.keys())
def test_json_nested_too_deeply_is_a_400_everywhere(staff_api_client, contacts, body):
    before = counts()
    for method, url in WRITING_ENDPOINTS:
        response = getattr(staff_api_client, method)(
            url, data=body, content_type="application/json"
        )
        assert_refused(response, "body", f"nested deeper than {MAX_DEPTH} levels")
    assert counts() == before


@pytest.mark.parametrize("body", DEEP_BODIES.values(), ids=DEEP_BODIES.keys())
def test_json_nested_too_deeply_is_a_400_anonymously_on_the_token_endpoint(db, body):
    before = counts()
    response = APIClient().post(TOKEN, data=body, content_type="application/json")
    assert_refused(response, "body", "nested deeper")
    assert counts() == before


def test_the_depth_bound_is_inclusive():
    at_the_bound: list = []
    for _ in range(MAX_DEPTH - 1):
        at_the_bound = [at_the_bound]
    check_parsed(at_the_bound)  # MAX_DEPTH levels: accepted
    with pytest.raises(BodyRefused):
        check_parsed([at_the_bound])


# Raw JSON text: the escapes reach the server as written (a client library would refuse to
# encode a lone surrogate itself).
BAD_TEXT = {
    "nul_in_value": ('{"properties": {"firstname": "Ada\\u0000"}}', "properties.firstname", "NUL"),
    "surrogate_in_value": (
        '{"properties": {"firstname": "Ada\\ud800"}}',
        "properties.firstname",
        "lone surrogate (\\ud800)",
    ),
    "low_surrogate_in_value": (
        '{"properties": {"firstname": "\\udfff"}}',
        "properties.firstname",
        "lone surrogate (\\udfff)",
    ),
    "nul_in_key": (
        '{"properties": {"first\\u0000name": "Ada"}}',
        "properties.first\\u0000name",
        "NUL",
    ),
    "surrogate_in_key": (
        '{"properties": {"\\ud83dname": "Ada"}}',
        "properties.\\ud83dname",
        "lone surrogate",
    ),
    "nul_in_a_list": (
        '{"action": "create", "inputs": [{"properties": {"lastname": "\\u0000"}}]}',
        "inputs.0.properties.lastname",
        "NUL",
    ),
    "nul_at_the_top": ('"\\u0000"', "body", "NUL"),
}


@pytest.mark.parametrize(("body", "field", "fragment"), BAD_TEXT.values(), ids=BAD_TEXT.keys())
def test_nul_and_lone_surrogates_in_json_are_a_400_naming_the_field(
    staff_api_client, contacts, body, field, fragment
):
    before = counts()
    for url in (RECORDS, RECORDS + "batch/"):
        response = staff_api_client.post(url, data=body, content_type="application/json")
        assert_refused(response, field, fragment)
    assert counts() == before


def test_a_surrogate_pair_is_a_character_not_a_lone_surrogate(staff_api_client, contacts):
    response = staff_api_client.post(
        RECORDS,
        data='{"properties": {"firstname": "Ada \\ud83d\\ude00"}}',
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["properties"]["firstname"] == "Ada \U0001f600"


@pytest.mark.parametrize(
    ("content_type", "body", "field", "fragment"),
    [
        ("application/x-www-form-urlencoded", b"username=ada%00&password=x", "username", "NUL"),
        (
            "application/x-www-form-urlencoded",
            b"user%00name=ada&password=x",
            "user\\u0000name",
            "NUL",
        ),
        # A charset can decode to a lone surrogate: DRF accepts any text codec.
        (
            "application/x-www-form-urlencoded; charset=unicode_escape",
            b"username=\\ud800&password=x",
            "username",
            "lone surrogate",
        ),
    ],
    ids=["nul_value", "nul_name", "surrogate_via_charset"],
)
def test_forms_with_nul_or_surrogates_are_a_400_on_the_token_endpoint(
    user, content_type, body, field, fragment
):
    before = counts()
    response = APIClient().post(TOKEN, data=body, content_type=content_type)
    assert_refused(response, field, fragment)
    assert counts() == before


def test_multipart_fields_with_nul_are_a_400(user):
    before = counts()
    response = APIClient().post(
        TOKEN,
        data={"username": "ada\x00", "password": "x", "f": SimpleUploadedFile("a.txt", b"x")},
        format="multipart",
    )
    assert_refused(response, "username", "NUL")
    assert counts() == before


def test_a_body_past_the_size_limit_is_a_413_with_a_json_body(staff_api_client, contacts):
    # Django's default limit (2.5 MB): a body just past it.
    note = "x" * (2_621_440 + 1)
    body = '{"properties": {"firstname": "' + note + '"}}'
    before = counts()
    response = staff_api_client.post(RECORDS, data=body, content_type="application/json")
    assert_refused(response, "body", "larger than 2621440 bytes", status=413)
    assert counts() == before


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", '{"username": "' + "u" * 2000 + '", "password": "x"}'),
        ("application/x-www-form-urlencoded", "username=" + "u" * 2000 + "&password=x"),
    ],
    ids=["json", "form"],
)
def test_a_body_past_the_size_limit_is_a_413_anonymously(db, settings, content_type, body):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    before = counts()
    response = APIClient().post(TOKEN, data=body, content_type=content_type)
    assert_refused(response, "body", "larger than 1000 bytes", status=413)
    assert counts() == before


@pytest.mark.parametrize("fmt", ["form", "multipart"])
def test_too_many_form_fields_is_a_413(user, settings, fmt):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    fields = {f"f{i}": "1" for i in range(20)} | {"username": user.username, "password": "x"}
    before = counts()
    client = APIClient()
    if fmt == "form":
        body = "&".join(f"{k}={v}" for k, v in fields.items())
        response = client.post(TOKEN, data=body, content_type="application/x-www-form-urlencoded")
    else:
        response = client.post(TOKEN, data=fields, format="multipart")
    assert_refused(response, "body", "more than 10 fields.", status=413)
    assert counts() == before


def test_ordinary_form_and_json_bodies_still_work(user):
    user.set_password("secret-pass")
    user.save()
    client = APIClient()
    form = client.post(TOKEN, data={"username": user.username, "password": "secret-pass"})
    json_body = client.post(
        TOKEN, data={"username": user.username, "password": "secret-pass"}, format="json"
    )
    assert form.status_code == json_body.status_code == 200
    assert form.json()["token"] == json_body.json()["token"]


@pytest.mark.parametrize("number", ["1e400", "-1e400", "1.5e999999999"])
def test_json_numbers_past_a_doubles_range_are_a_400(staff_api_client, contacts, number, db):
    # Python reads them as infinity: stored as JSON ("Infinity") neither database accepts it.

    integration = IntegrationFactory(name="Acme org")
    before = counts()
    for method, url, body in [
        ("post", RECORDS, '{"properties": {"firstname": %s}}'),
        ("patch", f"/api/v1/integrations/{integration.pk}/", '{"settings": {"x": %s}}'),
    ]:
        response = getattr(staff_api_client, method)(
            url, data=body % number, content_type="application/json"
        )
        assert_refused(response, "body", f"holds a number ({number}) out of range")
    assert counts() == before
    integration.refresh_from_db()
    assert integration.settings == {}


def test_too_many_query_parameters_is_a_400_naming_the_query(staff_api_client, contacts, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    query = "&".join(f"f{i}=1" for i in range(20))
    for url in (RECORDS, "/api/v1/audit-events/", "/api/v1/sync-errors/"):
        response = staff_api_client.get(f"{url}?{query}")
        assert_refused(response, "query", "has more than 10 parameters")
