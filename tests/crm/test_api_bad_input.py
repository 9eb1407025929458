"""Every writing endpoint answers malformed or wrongly shaped JSON with a clear 400."""

import pytest

from crm import sources
from crm.models import Association, AuditEvent, ObjectType, Property, Record
from crm.services.records import create_record


def counts():
    return (
        Record.objects.count(),
        Property.objects.count(),
        ObjectType.objects.count(),
        Association.objects.count(),
        AuditEvent.objects.count(),
    )


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
