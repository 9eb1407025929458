"""Sync engine refusals are typed errors that reach HTTP through the global handler with their
status, code and body (no view translates them); a ValueError is a bug and a 500; a duplicate
pulled value is recognised by its code."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from crm.models import Property
from crm.services.records import create_record
from crm.services.schema import update_property
from syncengine.engine.cycles import start_cycle
from syncengine.errors import (
    IntegrationNotActive,
    InvalidAllocation,
    ResyncRefused,
    TooManyToResync,
)
from syncengine.health.services import MAX_RESYNC, resync_errors
from syncengine.models import Integration, ObjectMapping, SyncCycle, SyncError
from syncengine.services.errors import record_sync_error
from syncengine.services.usage import set_api_allocation
from tests.factories import IntegrationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def paused(crm_schema):
    return IntegrationFactory(name="Paused org", status=Integration.Status.PAUSED)


def test_services_raise_typed_errors_not_value_errors(paused):
    with pytest.raises(IntegrationNotActive) as inactive:
        start_cycle(integration=paused)
    with pytest.raises(InvalidAllocation) as allocation:
        set_api_allocation(integration=paused, allocated=-1)
    with pytest.raises(TooManyToResync) as too_many:
        resync_errors(integration=paused, error_ids=list(range(1, MAX_RESYNC + 2)))

    assert not isinstance(inactive.value, ValueError)
    assert (inactive.value.status, inactive.value.code) == (400, "integration_not_active")
    assert (allocation.value.code, allocation.value.field) == ("invalid_allocation", "allocated")
    assert (too_many.value.code, too_many.value.field) == ("resync_over_limit", "ids")
    assert not SyncCycle.objects.exists()
    paused.refresh_from_db()
    assert paused.api_allocation is None


def test_starting_a_cycle_of_an_inactive_integration_is_a_400_with_its_code(
    staff_api_client, paused
):
    response = staff_api_client.post(f"/api/v1/integrations/{paused.pk}/sync/")

    assert response.status_code == 400
    assert response.json() == {"detail": "Paused org is paused", "code": "integration_not_active"}
    assert not SyncCycle.objects.exists()


def test_a_resync_refused_by_the_service_names_the_ids(staff_api_client, paused):
    error = record_sync_error(
        integration=paused, category="property_values", code="X", message="refused"
    )

    response = staff_api_client.post(
        "/api/v1/sync-errors/resync/", {"ids": [error.pk]}, format="json"
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == ResyncRefused.code
    assert body["errors"] == {"ids": ["Paused org is paused."]}
    error.refresh_from_db()
    assert error.status == SyncError.Status.OPEN


def test_an_unexpected_value_error_in_a_view_is_a_500_not_a_400(
    staff_user, crm_schema, monkeypatch
):
    integration = IntegrationFactory(name="Salesforce")

    def broken(**kwargs):
        raise ValueError("a bug, not bad input")

    monkeypatch.setattr("syncengine.api.views.start_cycle", broken)
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(staff_user)

    response = client.post(f"/api/v1/integrations/{integration.pk}/sync/")

    assert response.status_code == 500
    assert not SyncCycle.objects.exists()


def test_a_pulled_value_another_record_holds_is_a_duplicates_error(
    integration, sandbox, run, contacts
):
    # Pull only, so the Concord record is not pushed; a unique job title that is no match key
    ObjectMapping.objects.filter(integration=integration, remote_object="Contact").update(
        direction=ObjectMapping.Direction.FROM_REMOTE
    )
    update_property(prop=Property.objects.get(object_type=contacts, name="jobtitle"),
                    changes={"unique": True})  # fmt: skip
    create_record(
        object_type=contacts,
        properties={"email": "here@x.com", "lastname": "Here", "jobtitle": "Countess"},
        source="user",
    )
    remote_id = sandbox.create("Contact", LastName="There", Email="there@x.com", Title="Countess")

    run()

    error = SyncError.objects.get(remote_id=remote_id)
    assert (error.category, error.code) == ("duplicates", "DUPLICATE_VALUE")
    assert error.property_name == "jobtitle"
