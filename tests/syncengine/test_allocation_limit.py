"""An API call allocation above the limit the org reported is refused with a clear error,
from every place it can be set (health page, change form, both API routes); nothing changes."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from crm.models import AuditEvent
from syncengine.models import Integration
from tests.factories import GoogleIntegrationFactory, IntegrationFactory

pytestmark = pytest.mark.django_db

LIMIT = 15_000


@pytest.fixture
def org(crm_schema):
    """An org that reported its daily limit, with an allocation of 1,000 calls."""
    return IntegrationFactory(
        name="Org", instance_url="https://acme.my.salesforce.com", api_limit=LIMIT,
        api_allocation=1000,
    )  # fmt: skip


@pytest.fixture
def admin(staff_user) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


def unchanged(integration: Integration) -> bool:
    integration.refresh_from_db()
    return integration.api_allocation == 1000 and not AuditEvent.objects.exists()


def test_the_health_page_refuses_an_allocation_above_the_limit(admin, org):
    url = reverse("admin:syncengine_integration_health", args=[org.pk])
    response = admin.post(url, {"allocated": str(LIMIT + 1)}, follow=True)
    assert response.status_code == 200
    text = response.content.decode()
    assert "above the org&#x27;s limit of 15,000 calls per 24 hours" in text
    assert "Nothing was changed." in text
    assert unchanged(org)


def test_the_change_form_refuses_it_as_a_field_error(admin, org):
    response = admin.post(
        reverse("admin:syncengine_integration_change", args=[org.pk]),
        {"name": "Org", "client_id": "", "ca_file": "", "settings": "{}",
         "api_allocation": str(LIMIT * 2)},
    )  # fmt: skip
    assert response.status_code == 200  # the form again, with the error
    assert "Enter at most 15,000" in str(response.context["adminform"].form.errors)
    assert unchanged(org)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("api-usage/", {"allocated": LIMIT + 1}, "allocated"),
        ("", {"api_allocation": LIMIT + 1}, "api_allocation"),
    ],
)
def test_the_api_answers_400_and_changes_nothing(staff_api_client, org, path, body, field):
    response = staff_api_client.patch(f"/api/v1/integrations/{org.pk}/{path}", body, format="json")
    assert response.status_code == 400
    assert "above the org's limit" in response.json()["errors"][field][0]
    assert unchanged(org)


def test_the_limit_itself_and_no_cap_are_accepted(staff_api_client, org):
    url = f"/api/v1/integrations/{org.pk}/api-usage/"
    assert staff_api_client.patch(url, {"allocated": LIMIT}, format="json").status_code == 200
    org.refresh_from_db()
    assert org.api_allocation == LIMIT
    assert staff_api_client.patch(url, {"allocated": None}, format="json").status_code == 200
    org.refresh_from_db()
    assert org.api_allocation is None


def test_without_a_reported_limit_any_allocation_is_kept(staff_api_client, crm_schema):
    # Google reports no daily limit (its quotas are per minute): nothing to compare with
    google = GoogleIntegrationFactory()
    url = f"/api/v1/integrations/{google.pk}/api-usage/"
    assert staff_api_client.patch(url, {"allocated": 900_000}, format="json").status_code == 200
    google.refresh_from_db()
    assert google.api_allocation == 900_000
