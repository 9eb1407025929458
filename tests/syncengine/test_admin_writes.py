"""Every admin write goes through a service and is audited: field mappings edited in the object
mapping's inline, and the integration's change form."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crm.models import AuditEvent, Property
from syncengine.models import FieldMapping, ObjectMapping, ReferenceMapping
from syncengine.services.mappings import create_default_mappings
from tests.factories import IntegrationFactory
from tests.support.admin_forms import change_form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def contact_mapping(crm_schema) -> ObjectMapping:
    integration = IntegrationFactory(name="Org", settings={"api_version": "62.0"})
    create_default_mappings(integration=integration)
    return integration.object_mappings.get(remote_object="Contact")


def inline_form(data: dict, prefix: str, mapping: FieldMapping | ReferenceMapping) -> str:
    """The html prefix of the inline form that edits `mapping`."""
    for key, value in data.items():
        if key.startswith(prefix) and key.endswith("-id") and str(value) == str(mapping.pk):
            return key.removesuffix("-id")
    raise AssertionError(f"no inline form for {mapping}")


def open_mapping_form(client, user, mapping) -> tuple[str, dict]:
    """Sign the user in and open the object mapping's change form: its URL and its data."""
    client.force_login(user)
    page = reverse("admin:syncengine_objectmapping_change", args=[mapping.pk])
    return page, change_form_data(client.get(page))


def test_an_inline_field_mapping_change_and_addition_are_saved_by_the_service(
    client, staff_user, contact_mapping
):
    page, data = open_mapping_form(client, staff_user, contact_mapping)
    changed = contact_mapping.field_mappings.get(remote_field="Email")
    data[f"{inline_form(data, 'field_mappings', changed)}-rule"] = "always_remote"
    total = int(data["field_mappings-TOTAL_FORMS"])
    prop = Property.objects.get(object_type=contact_mapping.object_type, name="jobtitle")
    data.update(
        {
            f"field_mappings-{total}-property": prop.pk,
            f"field_mappings-{total}-remote_field": "Department",
            f"field_mappings-{total}-rule": "two_way",
            f"field_mappings-{total}-value_map": "{}",
            f"field_mappings-{total}-object_mapping": contact_mapping.pk,
            "field_mappings-TOTAL_FORMS": total + 1,
        }
    )

    response = client.post(page, data)

    assert response.status_code == 302, response.context and response.context["errors"]
    changed.refresh_from_db()
    assert changed.rule == "always_remote"
    added = contact_mapping.field_mappings.get(remote_field="Department")
    assert added.property == prop and not added.is_default
    saves = AuditEvent.objects.filter(verb="save_field_mapping", actor=staff_user)
    assert sorted(e.detail["field_mapping"] for e in saves) == sorted([changed.pk, added.pk])


def test_an_inline_field_mapping_deletion_is_done_by_the_service(
    client, staff_user, contact_mapping
):
    page, data = open_mapping_form(client, staff_user, contact_mapping)
    removed = contact_mapping.field_mappings.get(remote_field="Email")
    data[f"{inline_form(data, 'field_mappings', removed)}-DELETE"] = "on"

    response = client.post(page, data)

    assert response.status_code == 302
    assert not FieldMapping.objects.filter(pk=removed.pk).exists()
    event = AuditEvent.objects.get(verb="delete_field_mapping")
    assert event.actor == staff_user and event.detail["field_mapping"] == removed.pk
    assert not AuditEvent.objects.filter(verb="save_field_mapping").exists()  # nothing else


def test_the_integration_change_form_saves_through_the_service(client, staff_user, contact_mapping):
    integration = contact_mapping.integration
    client.force_login(staff_user)

    response = client.post(
        reverse("admin:syncengine_integration_change", args=[integration.pk]),
        {
            "name": "Renamed org",
            "client_id": "other-client",
            "ca_file": "",
            "settings": '{"api_version": "61.0"}',
            "api_allocation": "500",
        },
    )

    assert response.status_code == 302
    integration.refresh_from_db()
    assert integration.name == "Renamed org" and integration.client_id == "other-client"
    assert integration.settings == {"api_version": "61.0"} and integration.api_allocation == 500
    event = AuditEvent.objects.get(verb="update_integration")
    assert event.actor == staff_user
    assert event.detail["before"]["name"] == "Org"
    assert event.detail["before"]["settings"] == {"api_version": "62.0"}


def test_the_object_mapping_and_its_reference_mappings_are_saved_by_the_service(
    client, staff_user, contact_mapping
):
    page, data = open_mapping_form(client, staff_user, contact_mapping)
    data.pop("enabled")  # unticked
    reference = contact_mapping.reference_mappings.get(remote_field="AccountId")
    data[f"{inline_form(data, 'reference_mappings', reference)}-DELETE"] = "on"

    response = client.post(page, data)

    assert response.status_code == 302
    contact_mapping.refresh_from_db()
    assert contact_mapping.enabled is False
    assert not contact_mapping.reference_mappings.exists()
    update = AuditEvent.objects.get(verb="update_object_mapping")
    assert update.actor == staff_user and update.detail["changed"] == ["enabled"]
    removal = AuditEvent.objects.get(verb="delete_reference_mapping")
    assert removal.actor == staff_user and removal.detail["reference_mapping"] == reference.pk
