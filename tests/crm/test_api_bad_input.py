"""Every writing endpoint answers malformed or wrongly shaped JSON with a clear 400."""

import pytest

from crm import sources
from crm.models import Association, AuditEvent, ObjectType, Property, Record
from crm.services.records import create_record
from tests.support.counts import table_counts


def counts():
    return table_counts(Record, Property, ObjectType, Association, AuditEvent)


@pytest.fixture
def contact(contacts):
    return create_record(
        object_type=contacts, source=sources.API, properties={"email": "a@example.com"}
    )


def endpoints(contact_id: int) -> list[tuple[str, str]]:
    return [
        ("post", "/api/v1/objects/contacts/records/"),
        ("patch", f"/api/v1/objects/contacts/records/{contact_id}/"),
        ("post", "/api/v1/objects/contacts/records/batch/"),
        ("post", "/api/v1/object-types/"),
        ("post", "/api/v1/object-types/contacts/properties/"),
        ("patch", "/api/v1/object-types/contacts/properties/email/"),
        ("post", "/api/v1/associations/"),
    ]


@pytest.mark.parametrize("body", ['{"properties": {"email": ', "[1, 2", "not json"])
def test_malformed_json_is_a_400_everywhere(staff_api_client, contact, body):
    before = counts()
    for method, url in endpoints(contact.pk):
        response = getattr(staff_api_client, method)(
            url, data=body, content_type="application/json"
        )
        assert response.status_code == 400, (method, url)
        assert "JSON parse error" in response.json()["detail"], (method, url)
    assert counts() == before


def test_a_json_array_instead_of_an_object_is_a_400_everywhere(staff_api_client, contact):
    before = counts()
    for method, url in endpoints(contact.pk):
        response = getattr(staff_api_client, method)(url, data=[1, 2], format="json")
        assert response.status_code == 400, (method, url, response.content[:200])
    assert counts() == before
    contact.refresh_from_db()
    assert contact.properties == {"email": "a@example.com"}


RECORDS = "/api/v1/objects/contacts/records/"


@pytest.fixture
def typed_properties(contacts):
    from crm.services.schema import create_property

    create_property(object_type=contacts, name="score", label="Score", type="number")
    create_property(object_type=contacts, name="met_at", label="Met at", type="datetime")


# Each a 500 or a silently wrong value before: infinity, separators read away, a float for a
# 30-digit string, NUL (PostgreSQL), a lone surrogate, datetimes that overflow in UTC.
BAD_VALUES = {
    "infinity": ("score", "1e400", "out of range"),
    "thousands_separators": ("score", "1,2,3", "without thousands separators"),
    "underscores": ("score", "1_000", "or underscores"),
    "thirty_digits": ("score", "123456789012345678901234567890", "keeps exactly"),
    "thirty_digit_json_number": ("score", 123456789012345678901234567890, "keeps exactly"),
    "nul_in_text": ("firstname", "Ada\x00", "NUL character"),
    "nul_in_url": ("website", "https://example.com/\x00", "NUL character"),
    "datetime_past_9999": ("met_at", "9999-12-31T23:59:59-12:00", "out of range"),
    "datetime_before_0001": ("met_at", "0001-01-01T00:00:00+01:00", "out of range"),
}


def _refused_naming(response, name: str, fragment: str) -> None:
    assert response.status_code == 400, response.content[:300]
    errors = response.json()["errors"]
    assert fragment in " ".join(errors["properties"][name])


@pytest.mark.parametrize(("name", "raw", "fragment"), BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_bad_values_are_a_400_naming_the_property(
    staff_api_client, contact, typed_properties, name, raw, fragment
):
    before = counts()
    created = staff_api_client.post(RECORDS, {"properties": {name: raw}}, format="json")
    _refused_naming(created, name, fragment)
    patched = staff_api_client.patch(
        f"{RECORDS}{contact.pk}/", {"properties": {name: raw}}, format="json"
    )
    _refused_naming(patched, name, fragment)
    batch = staff_api_client.post(
        RECORDS + "batch/",
        {
            "action": "create",
            "inputs": [{"properties": {"lastname": "ok"}}, {"properties": {name: raw}}],
        },
        format="json",
    )
    assert batch.status_code == 400, batch.content[:300]
    errors = batch.json()["errors"]
    if "NUL" in fragment:  # refused while parsing the JSON: DRF's nested shape
        messages = errors["inputs"]["1"]["properties"][name]
    else:  # refused by the record service: one entry per invalid input
        assert [e["index"] for e in errors] == [1]
        messages = errors[0]["errors"][name]
    assert fragment in " ".join(messages)
    assert counts() == before
    contact.refresh_from_db()
    assert contact.properties == {"email": "a@example.com"}


def test_a_lone_surrogate_in_a_form_encoded_value_is_a_400(staff_api_client, contact):
    # Reaches the values even without JSON: a charset decodes to it (refused at parsing).
    before = counts()
    response = staff_api_client.patch(
        f"{RECORDS}{contact.pk}/",
        data=b"properties=\\udc80",
        content_type="application/x-www-form-urlencoded; charset=unicode_escape",
    )
    assert response.status_code == 400
    assert "lone surrogate" in response.json()["errors"]["properties"][0]
    assert counts() == before


BAD_FILTERS = {
    "infinity": ("property.score", "1e400", "out of range"),
    "separators": ("property.score", "1,2,3", "without thousands separators"),
    "thirty_digits": ("property.score", "123456789012345678901234567890", "keeps exactly"),
    "nul": ("property.firstname", "\x00", "NUL character"),
    "datetime_value": ("property.met_at", "9999-12-31T23:59:59-12:00", "out of range"),
}


@pytest.mark.parametrize(("param", "raw", "fragment"), BAD_FILTERS.values(), ids=BAD_FILTERS.keys())
def test_bad_property_filters_are_a_400(
    staff_api_client, contact, typed_properties, param, raw, fragment
):
    response = staff_api_client.get(RECORDS, {param: raw})
    assert response.status_code == 400, response.content[:300]
    assert fragment in response.json()["detail"]
    [message] = response.json()["errors"][param]
    assert fragment in message


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/api/v1/object-types/%00/"),
        ("get", "/api/v1/object-types/con%00tacts/"),
        ("get", "/api/v1/object-types/contacts/properties/%00/"),
        ("patch", "/api/v1/object-types/contacts/properties/email%00/"),
        ("delete", "/api/v1/object-types/contacts/properties/email%00/"),
        ("get", "/api/v1/object-types/contacts/properties/email%00/usage/"),
    ],
)
def test_a_nul_in_a_name_in_the_path_is_a_404(staff_api_client, contact, method, url):
    # PostgreSQL refuses a NUL in a query (a 500): names are matched by the router instead.
    before = counts()
    response = getattr(staff_api_client, method)(url, {"label": "x"}, format="json")
    assert response.status_code == 404, response.content[:300]
    assert response.json() == {"detail": "Not found."}
    assert counts() == before
