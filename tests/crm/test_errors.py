"""CRM refusals reach HTTP through the global handler with their status, code and body; a
duplicate value is known by its code; a bug in a view is a 500, never a 400."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from crm import sources
from crm.errors import RecordValidationError, ValueCode
from crm.models import Record
from crm.services.records import RecordInput, create_record, write_records

RECORDS = "/api/v1/objects/contacts/records/"

pytestmark = pytest.mark.django_db


def test_a_duplicate_value_carries_the_duplicate_code(contacts):
    holder = create_record(
        object_type=contacts, source=sources.API, properties={"email": "a@example.com"}
    )

    with pytest.raises(RecordValidationError) as refused:
        create_record(
            object_type=contacts,
            source=sources.API,
            properties={"email": "A@example.com", "nonsense": 1},
        )

    assert refused.value.codes == {
        "email": ValueCode.DUPLICATE,
        "nonsense": ValueCode.UNKNOWN_PROPERTY,
    }
    used = f"'a@example.com' is already used by record {holder.pk}"
    assert refused.value.errors["email"] == [used]
    assert (refused.value.status, refused.value.code) == (400, "invalid_values")


def test_a_batch_reports_each_inputs_codes_without_writing(contacts):
    result = write_records(
        object_type=contacts,
        inputs=[
            RecordInput(properties={"email": "b@example.com"}),
            RecordInput(properties={"email": "b@example.com"}),
        ],
        mode="create",
        source=sources.API,
        all_or_none=False,
        dry_run=True,
    )

    assert [item.errors.codes for item in result.items] == [{}, {"email": ValueCode.REPEATED}]
    assert not Record.objects.exists()


def test_a_record_validation_error_reaches_http_with_its_status_code_and_body(api_client, contacts):
    holder = create_record(
        object_type=contacts, source=sources.API, properties={"email": "a@example.com"}
    )

    response = api_client.post(RECORDS, {"properties": {"email": "a@example.com"}}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "detail": "Some property values are invalid; nothing was written.",
        "code": "invalid_values",
        "errors": {
            "properties": {"email": [f"'a@example.com' is already used by record {holder.pk}"]}
        },
    }
    assert Record.objects.count() == 1


def test_an_unexpected_value_error_in_a_view_is_a_500_not_a_400(user, contacts, monkeypatch):
    def broken(**kwargs):
        raise ValueError("a bug, not bad input")

    monkeypatch.setattr("crm.api.views.record_services.create_record", broken)
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(user)

    response = client.post(RECORDS, {"properties": {"email": "c@example.com"}}, format="json")

    assert response.status_code == 500
    assert not Record.objects.exists()
