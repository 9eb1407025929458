"""Setting delete rules (SPEC L-1): through the API and the admin's object mapping page, both
through the audited mapping service; deleting in the remote needs an explicit confirmation."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crm.models import AuditEvent
from syncengine.models import ObjectMapping
from syncengine.services.mappings import create_default_mappings
from tests.factories import IntegrationFactory
from tests.support.admin_forms import change_form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def contact_mapping(crm_schema) -> ObjectMapping:
    integration = IntegrationFactory(name="Org", settings={"api_version": "62.0"})
    create_default_mappings(integration=integration)
    return integration.object_mappings.get(remote_object="Contact")


def patch(client, om: ObjectMapping, item: dict):
    url = f"/api/v1/integrations/{om.integration_id}/mappings/"
    return client.patch(url, {"object_mappings": [{"id": om.pk, **item}]}, format="json")


def test_the_defaults_archive_remote_deletes_and_leave_concord_archives_alone(
    staff_api_client, contact_mapping
):
    response = staff_api_client.get(
        f"/api/v1/integrations/{contact_mapping.integration_id}/mappings/"
    )
    shown = next(m for m in response.json() if m["id"] == contact_mapping.pk)
    assert (shown["pull_delete_rule"], shown["push_delete_rule"]) == ("archive", "ignore")


@pytest.mark.parametrize("confirm", [None, False])
def test_the_api_refuses_to_delete_remotely_without_confirmation(
    staff_api_client, contact_mapping, confirm
):
    item = {"push_delete_rule": "delete", "pull_delete_rule": "ignore"}
    if confirm is not None:
        item["confirm_deletes"] = confirm

    response = patch(staff_api_client, contact_mapping, item)

    assert response.status_code == 400, response.content[:300]
    body = response.json()
    assert body["code"] == "confirmation_required"
    assert "confirm_deletes" in body["errors"]
    contact_mapping.refresh_from_db()
    # Nothing changed, not even the other rule of the same request.
    assert (contact_mapping.pull_delete_rule, contact_mapping.push_delete_rule) == (
        "archive",
        "ignore",
    )
    assert not AuditEvent.objects.filter(verb="set_delete_rules").exists()


def test_the_api_sets_the_rules_with_confirmation_and_audits_them(
    staff_api_client, staff_user, contact_mapping
):
    response = patch(
        staff_api_client,
        contact_mapping,
        {"push_delete_rule": "delete", "pull_delete_rule": "ignore", "confirm_deletes": True},
    )

    assert response.status_code == 200, response.content[:300]
    shown = next(m for m in response.json() if m["id"] == contact_mapping.pk)
    assert (shown["pull_delete_rule"], shown["push_delete_rule"]) == ("ignore", "delete")
    contact_mapping.refresh_from_db()
    assert contact_mapping.push_delete_rule == "delete"
    event = AuditEvent.objects.get(verb="set_delete_rules")
    assert event.actor == staff_user and event.detail["confirmed"] is True
    assert event.detail["changed"]["push_delete_rule"] == ["ignore", "delete"]
    # Turning it off again needs no confirmation.
    off = patch(staff_api_client, contact_mapping, {"push_delete_rule": "ignore"})
    assert off.status_code == 200
    contact_mapping.refresh_from_db()
    assert contact_mapping.push_delete_rule == "ignore"


def test_an_unknown_rule_is_a_400(staff_api_client, contact_mapping):
    response = patch(staff_api_client, contact_mapping, {"pull_delete_rule": "purge"})

    assert response.status_code == 400
    assert "object_mappings" in response.json()["errors"]
    contact_mapping.refresh_from_db()
    assert contact_mapping.pull_delete_rule == "archive"


def test_the_admin_form_asks_for_the_confirmation(client, staff_user, contact_mapping):
    client.force_login(staff_user)
    page = reverse("admin:syncengine_objectmapping_change", args=[contact_mapping.pk])
    form = client.get(page)
    assert b"confirm_deletes" in form.content and b"push_delete_rule" in form.content
    data = change_form_data(form)
    data["push_delete_rule"] = "delete"

    refused = client.post(page, data)

    assert refused.status_code == 200
    assert "confirm_deletes" in refused.context["adminform"].form.errors
    contact_mapping.refresh_from_db()
    assert contact_mapping.push_delete_rule == "ignore"

    data["confirm_deletes"] = "on"
    saved = client.post(page, data)

    assert saved.status_code == 302
    contact_mapping.refresh_from_db()
    assert contact_mapping.push_delete_rule == "delete"
    event = AuditEvent.objects.get(verb="set_delete_rules")
    assert event.actor == staff_user and event.detail["confirmed"] is True
    assert not AuditEvent.objects.filter(verb="update_object_mapping").exists()
