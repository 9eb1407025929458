"""Integration engine settings are checked, by the API and the admin alike; a refusal writes
nothing (`api_version` goes into every Salesforce request path)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from crm.models import AuditEvent
from syncengine.models import Integration
from syncengine.services.integrations import update_integration
from tests.factories import IntegrationFactory

pytestmark = pytest.mark.django_db

STORED = {"sync_interval_minutes": 5, "api_version": "62.0"}


@pytest.fixture
def salesforce(crm_schema):
    return IntegrationFactory(name="Org", settings=dict(STORED))


@pytest.fixture
def google(crm_schema):
    return IntegrationFactory(
        name="Google",
        kind=Integration.Kind.GOOGLE_CONTACTS,
        settings={"sync_interval_minutes": 5, "sync_rule": "two_way", "filters": []},
    )


def url(integration) -> str:
    return f"/api/v1/integrations/{integration.pk}/"


@pytest.mark.parametrize(
    "patch, field",
    [
        ({"api_version": "../../services/apexrest/x?"}, "api_version"),
        ({"api_version": "v62.0"}, "api_version"),
        ({"api_version": "62.1"}, "api_version"),
        ({"api_version": 62.0}, "api_version"),
        ({"api_version": None}, "api_version"),
        ({"api_version": "62.0\n"}, "api_version"),
        ({"sync_interval_minutes": True}, "sync_interval_minutes"),
        ({"sync_interval_minutes": "5"}, "sync_interval_minutes"),
        ({"conflict_winner": "me"}, "conflict_winner"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_salesforce_settings_are_refused_by_name(staff_api_client, salesforce, patch, field):
    response = staff_api_client.patch(url(salesforce), {"settings": patch}, format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]["settings"]
    salesforce.refresh_from_db()
    assert salesforce.settings == STORED
    assert not AuditEvent.objects.filter(verb="update_integration").exists()


def test_google_sync_choices_are_refused_outside_their_page(staff_api_client, google):
    response = staff_api_client.patch(
        url(google), {"settings": {"sync_rule": "nonsense", "api_version": "62.0"}}, format="json"
    )

    assert response.status_code == 400
    errors = response.json()["errors"]["settings"]
    assert "Sync settings page" in errors["sync_rule"][0]
    assert "unknown setting" in errors["api_version"][0]
    google.refresh_from_db()
    assert google.settings["sync_rule"] == "two_way"


def test_the_service_refuses_whatever_calls_it(salesforce):
    with pytest.raises(ValidationError) as excinfo:
        update_integration(integration=salesforce, settings_patch={"api_version": "x"})

    assert "api_version" in str(excinfo.value.message_dict["settings"])
    salesforce.refresh_from_db()
    assert salesforce.settings == STORED
    # Good settings are merged into the stored ones.
    update_integration(
        integration=salesforce, settings_patch={"api_version": "61.0", "conflict_winner": "remote"}
    )
    salesforce.refresh_from_db()
    assert salesforce.settings == {**STORED, "api_version": "61.0", "conflict_winner": "remote"}


def test_the_admin_form_refuses_a_bad_api_version(client, staff_user, salesforce):
    client.force_login(staff_user)
    page = f"/admin/syncengine/integration/{salesforce.pk}/change/"

    response = client.post(
        page,
        {
            "name": "Org",
            "client_id": "",
            "ca_file": "",
            "settings": '{"sync_interval_minutes": 5, "api_version": "62.0/../../x"}',
            "api_allocation": "",
        },
    )

    assert response.status_code == 200
    assert "api_version: must be a Salesforce API version" in response.content.decode()
    salesforce.refresh_from_db()
    assert salesforce.settings == STORED
