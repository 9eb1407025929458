"""Wrongly shaped bodies to the sync engine API are a 400 naming the field, and change nothing."""

from __future__ import annotations

import pytest

from crm.models import ObjectType, Property
from syncengine.models import SyncRule
from tests.factories import FieldMappingFactory, IntegrationFactory, ObjectMappingFactory


@pytest.fixture
def field_mapping(crm_schema):
    integration = IntegrationFactory(name="Acme org")
    object_mapping = ObjectMappingFactory(
        integration=integration,
        object_type=ObjectType.objects.get(name="contacts"),
        remote_object="Contact",
    )
    return FieldMappingFactory(
        object_mapping=object_mapping,
        property=Property.objects.get(object_type__name="contacts", name="email"),
        remote_field="Email",
        rule=SyncRule.TWO_WAY,
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([{"id": 1, "rule": "two_way"}], "non_field_errors"),  # a list: .get() was a 500
        ("two_way", "non_field_errors"),
        (7, "non_field_errors"),
        (None, "field_mappings"),  # JSON null: no body, so the field is missing
        ({"field_mappings": {"id": 1, "rule": "two_way"}}, "field_mappings"),
    ],
    ids=["list", "string", "number", "null", "object_instead_of_a_list"],
)
def test_a_mappings_patch_whose_body_is_not_an_object_is_a_400(
    staff_api_client, field_mapping, body, field
):
    integration = field_mapping.object_mapping.integration
    url = f"/api/v1/integrations/{integration.pk}/mappings/"

    response = staff_api_client.patch(url, body, format="json")

    assert response.status_code == 400, response.content[:300]
    assert field in response.json()["errors"]
    field_mapping.refresh_from_db()
    assert field_mapping.rule == SyncRule.TWO_WAY
