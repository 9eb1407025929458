"""The model permissions behind the sync engine's writes: refused without them, nothing changed
(issue 13, "Permissions are uneven")."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from crm.models import Property
from syncengine.models import FieldMapping, Integration, SyncCycle
from tests.factories import (
    FieldMappingFactory,
    IntegrationFactory,
    ObjectMappingFactory,
    UserFactory,
)
from tests.support.roles import ROLES, grant_role


@pytest.fixture
def mapping(contacts):
    integration = IntegrationFactory(
        name="Org", instance_url="https://example.my.salesforce.com", api_allocation=5000
    )
    om = ObjectMappingFactory(
        integration=integration, object_type=contacts, remote_object="Contact"
    )
    return FieldMappingFactory(
        object_mapping=om,
        property=Property.objects.get(object_type=contacts, name="lastname"),
        remote_field="LastName",
    )


def api_as(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def attempts(client: APIClient, integration: Integration, mapping: FieldMapping) -> list:
    base = f"/api/v1/integrations/{integration.pk}/"
    return [
        client.patch(base, {"name": "Renamed"}, format="json"),
        client.patch(base, {"api_allocation": 0}, format="json"),
        client.patch(f"{base}api-usage/", {"allocated": 0}, format="json"),
        client.patch(
            f"{base}mappings/",
            {"field_mappings": [{"id": mapping.pk, "rule": "dont_sync"}]},
            format="json",
        ),
        client.post(f"{base}sync/"),
    ]


def test_staff_without_permissions_cannot_rename_stop_remap_or_sync(mapping):
    integration = mapping.object_mapping.integration
    staff = UserFactory(is_staff=True)

    answers = attempts(api_as(staff), integration, mapping)

    assert [r.status_code for r in answers] == [403] * 5
    integration.refresh_from_db()
    mapping.refresh_from_db()
    assert (integration.name, integration.api_allocation) == ("Org", 5000)
    assert mapping.rule == "two_way"
    assert not SyncCycle.objects.exists()


def test_viewing_integrations_is_not_changing_them(mapping):
    integration = mapping.object_mapping.integration
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_integration", "view_objectmapping"])
    )
    client = api_as(type(viewer).objects.get(pk=viewer.pk))

    assert client.get(f"/api/v1/integrations/{integration.pk}/").status_code == 200
    assert client.get(f"/api/v1/integrations/{integration.pk}/mappings/").status_code == 200
    assert [r.status_code for r in attempts(client, integration, mapping)] == [403] * 5
    assert not SyncCycle.objects.exists()


def test_the_admin_role_may_do_all_of_it(mapping):
    integration = mapping.object_mapping.integration
    admin = grant_role(UserFactory(is_staff=True), ROLES.ADMIN)

    answers = attempts(api_as(admin), integration, mapping)

    assert [r.status_code for r in answers] == [200, 200, 200, 200, 202]
    integration.refresh_from_db()
    mapping.refresh_from_db()
    assert (integration.name, integration.api_allocation) == ("Renamed", 0)
    assert mapping.rule == "dont_sync"
    assert SyncCycle.objects.filter(integration=integration).count() == 1


def test_the_admin_sync_action_needs_the_start_sync_permission(mapping):
    integration = mapping.object_mapping.integration
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(*Permission.objects.filter(codename="view_integration"))
    client = Client()
    client.force_login(viewer)
    changelist = reverse("admin:syncengine_integration_changelist")

    response = client.post(
        changelist, {"action": "sync_now", "_selected_action": [integration.pk]}, follow=True
    )

    assert response.status_code == 200  # the admin ignores an action the user may not run
    assert "sync_now" not in response.content.decode()
    assert not SyncCycle.objects.exists()
    viewer.user_permissions.add(Permission.objects.get(codename="start_sync"))
    client.post(changelist, {"action": "sync_now", "_selected_action": [integration.pk]})
    assert SyncCycle.objects.filter(integration=integration).count() == 1


def test_a_method_an_endpoint_lacks_is_405_once_signed_in(contacts, user):
    record = APIClient()
    record.force_authenticate(user)
    admin = api_as(grant_role(UserFactory(is_staff=True), ROLES.ADMIN))

    assert record.put("/api/v1/objects/contacts/records/1/", {}, format="json").status_code == 405
    assert admin.post("/api/v1/audit-events/", {}, format="json").status_code == 405
    assert admin.delete("/api/v1/object-types/contacts/").status_code == 405
    assert APIClient().put("/api/v1/objects/contacts/records/1/").status_code == 401


def test_options_describes_only_what_the_user_may_do(user):
    client = APIClient()
    client.force_authenticate(user)

    records = client.options("/api/v1/objects/contacts/records/")
    settings = client.options("/api/v1/notification-settings/")
    usage = client.options("/api/v1/object-types/")

    assert (records.status_code, settings.status_code, usage.status_code) == (200, 200, 200)
    assert "POST" in records.json().get("actions", {})  # the User role may create records
    assert "POST" not in usage.json().get("actions", {})  # but not object types
    assert APIClient().options("/api/v1/notification-settings/").status_code == 401
