"""Field mappings and phone rules (G-4), etag conflicts, quotas, Google's limits (G-5), and the
shared health pages (G-6), against the People API sandbox over HTTP."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from crm.models import Property, Record
from crm.services.records import update_record
from syncengine.health.info import info_for
from syncengine.models import FieldMapping, ObjectMapping, SyncCycle, SyncError
from syncengine.services import mappings as mapping_services
from tests.support.google_sandbox import cid, google_people, next_scheduled_cycle, person
from tests.support.sync import concord_contact
from tests.support.sync import person_stage_of as stage_of

pytestmark = pytest.mark.django_db


def phones(contact: dict) -> list[tuple[str, str]]:
    return [(p["value"], p.get("type", "")) for p in contact.get("phoneNumbers") or []]


def test_first_number_is_phone_and_only_mobile_or_fax_numbers_follow(
    integration, google, contacts, run
):
    google.ok(
        "POST",
        "contacts",
        json=person(
            "Ada",
            "Lovelace",
            "ada@x.io",
            phoneNumbers=[
                {"value": "111", "type": "home"},
                {"value": "222", "type": "work"},
                {"value": "333", "type": "mobile"},
                {"value": "444", "type": "workFax"},
            ],
            userDefined=[{"key": "Shoe size", "value": "38"}],
        ),
    )
    run()
    record = Record.objects.get(properties__email="ada@x.io")
    assert (record.properties["phone"], record.properties["mobilephone"]) == ("111", "333")
    assert record.properties["fax"] == "444"
    # A Concord change of the mobile number rewrites only that number; the work number that
    # does not sync, and the custom field, stay as they were.
    update_record(record=record, properties={"mobilephone": "555"}, source="user")
    assert run().status == SyncCycle.Status.SUCCESS
    ada = google_people(google)["ada@x.io"]
    assert phones(ada) == [("111", "home"), ("222", "work"), ("555", "mobile"), ("444", "workFax")]
    assert [(u["key"], u["value"]) for u in ada["userDefined"]] == [("Shoe size", "38")]


def test_default_mappings_are_locked_and_custom_ones_sync(integration, google, contacts, run):
    om = ObjectMapping.objects.get(integration=integration)
    default = FieldMapping.objects.get(object_mapping=om, remote_field="givenName")
    with pytest.raises(ValidationError, match="cannot be edited"):
        mapping_services.set_field_mapping_rule(field_mapping=default, rule="dont_sync")
    with pytest.raises(ValidationError, match="cannot be edited"):
        mapping_services.delete_field_mapping(field_mapping=default)
    website = Property.objects.get(object_type=contacts, name="website")
    with pytest.raises(ValidationError) as refused:
        mapping_services.save_field_mapping(
            object_mapping=om, prop=website, remote_field="concordId", rule="two_way"
        )
    assert "Concord record id" in str(refused.value)
    with pytest.raises(ValidationError):
        mapping_services.save_field_mapping(
            object_mapping=om, prop=website, remote_field="shoeSize", rule="two_way"
        )
    assert FieldMapping.objects.filter(object_mapping=om).count() == 11
    custom = mapping_services.save_field_mapping(
        object_mapping=om, prop=website, remote_field="website", rule="two_way"
    )
    assert not custom.is_default
    google.ok(
        "POST",
        "contacts",
        json=person("Ada", "L", "ada@x.io", urls=[{"value": "https://ada.dev", "type": "home"}]),
    )
    run()
    assert Record.objects.get(properties__email="ada@x.io").properties["website"] == (
        "https://ada.dev"
    )
    mapping_services.delete_field_mapping(field_mapping=custom)  # custom ones can go


def test_mapping_api_refuses_to_edit_a_default_and_changes_nothing(integration, staff_api_client):
    om = ObjectMapping.objects.get(integration=integration)
    city = FieldMapping.objects.get(object_mapping=om, remote_field="city")
    custom = mapping_services.save_field_mapping(
        object_mapping=om,
        prop=Property.objects.get(object_type=om.object_type, name="country"),
        remote_field="country",
        rule="two_way",
    )
    response = staff_api_client.patch(
        f"/api/v1/integrations/{integration.pk}/mappings/",
        {
            "field_mappings": [
                {"id": custom.pk, "rule": "dont_sync"},
                {"id": city.pk, "rule": "dont_sync"},
            ]
        },
        format="json",
    )
    assert response.status_code == 400
    assert "cannot be edited" in str(response.json())
    custom.refresh_from_db()
    assert custom.rule == "two_way"  # the batch is all or nothing


def test_google_sync_options_api(integration, staff_api_client):
    url = f"/api/v1/integrations/{integration.pk}/google-sync-options/"
    assert staff_api_client.get(url).json() == {
        "sync_rule": "two_way",
        "filters": [],
        "conflict_winner": "concord",
    }
    bad = staff_api_client.patch(url, {"sync_rule": "filters", "filters": []}, format="json")
    assert bad.status_code == 400 and "filters" in bad.json()["errors"]
    ok = staff_api_client.patch(
        url, {"sync_rule": "filters", "filters": ["starred"], "conflict_winner": "google"},
        format="json",
    )  # fmt: skip
    assert ok.status_code == 200
    assert ok.json()["filters"] == ["starred"]


def test_a_stale_etag_is_re_read_and_retried(integration, google, contacts):
    from syncengine.connectors.base import RemoteRow
    from syncengine.services.integrations import build_connector

    created = google.ok("POST", "contacts", json=person("Ada", "L", "ada@x.io"))
    next_scheduled_cycle(google, integration)
    connector = build_connector(integration=integration)
    rows = list(connector.pull_changes("Person", ["givenName", "jobTitle"], None))
    assert [r.values["givenName"] for r in rows] == ["Ada"]
    # The user edits the contact after Concord read it: Concord's etag is now stale.
    google.ok("PATCH", f"contacts/{cid(created)}", json={"biographies": [{"value": "Hi"}]})
    change = RemoteRow(created["resourceName"], {"jobTitle": "CTO"})
    [outcome] = connector.update("Person", [change])
    assert outcome.success, outcome.errors
    ada = google_people(google)["ada@x.io"]
    assert ada["organizations"][0]["title"] == "CTO"
    assert ada["biographies"][0]["value"] == "Hi"  # the user's edit survived


def test_quota_429s_are_backed_off_and_retried(integration, google, contacts, run):
    google.ok("POST", "fill", json={"count": 3})
    google.ok("PATCH", "faults", json={"next_errors": [429, 429, 503]})
    cycle = run()
    assert cycle.status == SyncCycle.Status.SUCCESS, cycle.message
    assert cycle.connector.retries == 3
    assert Record.objects.filter(object_type=contacts).count() == 3
    # Every attempt counts against the budget, the refused ones too.
    assert cycle.api_calls >= 4


def test_contacts_past_the_25000_limit_become_storage_errors_with_steps(
    integration, google, contacts, run, staff_api_client
):
    google.ok("PATCH", "limits", json={"contact_limit": 5})
    google.ok("POST", "fill", json={"count": 2, "kind": "other"})
    google.ok("POST", "fill", json={"count": 1, "kind": "trash"})
    for i in range(4):
        concord_contact(contacts, firstname=f"P{i}", email=f"p{i}@x.io")
    cycle = run()
    pushed = stage_of(cycle, "push_new")
    assert (pushed.new, pushed.failed) == (2, 2)  # 2 Other + 1 Trash + 2 new = 5
    errors = SyncError.objects.filter(integration=integration, code="CONTACT_LIMIT_EXCEEDED")
    assert errors.count() == 2
    assert {e.category for e in errors} == {"other"}
    detail = staff_api_client.get(f"/api/v1/sync-errors/{errors[0].pk}/").json()
    steps = " ".join(detail["resolution_steps"])
    assert "Trash" in steps and "Other contacts" in steps and "duplicate" in steps
    cards = staff_api_client.get(f"/api/v1/integrations/{integration.pk}/health/").json()["cards"]
    assert {c["type"]: c["errors"] for c in cards}["other"] == 2
    # Emptying the Trash makes room for one; a resync creates it and resolves its error.
    google.ok("POST", "trash/empty")
    response = staff_api_client.post(
        "/api/v1/sync-errors/resync/", {"ids": [errors[0].pk]}, format="json"
    )
    assert response.status_code == 202
    from syncengine.health.services import run_resync
    from syncengine.services.integrations import build_connector
    from tests.support.sync import no_sleep

    run_resync(
        integration_id=integration.pk,
        connector=build_connector(integration=integration, sleep=no_sleep),
    )
    assert SyncError.objects.filter(integration=integration, status="resolved").count() == 1
    assert len(google_people(google)) == 3


def test_a_contact_over_128_kb_becomes_a_storage_error(integration, google, contacts, run):
    concord_contact(contacts, firstname="Big", email="big@x.io", jobtitle="x" * 2000)
    concord_contact(contacts, firstname="Small", email="small@x.io")
    google.ok("PATCH", "limits", json={"contact_size_limit_bytes": 1500})
    cycle = run()
    assert stage_of(cycle, "push_new").failed == 1
    error = SyncError.objects.get(integration=integration, code="CONTACT_SIZE_LIMIT_EXCEEDED")
    assert error.record.properties["email"] == "big@x.io"
    assert error.category == "other" and "128 KB" in " ".join(
        info_for(error.category, error.code)["steps"]
    )
    assert set(google_people(google)) == {"small@x.io"}


def test_health_page_and_usage_work_for_google(integration, google, contacts, run, admin_client):
    google.ok("POST", "fill", json={"count": 2})
    run()
    page = admin_client.get(f"/admin/syncengine/integration/{integration.pk}/health/")
    assert page.status_code == 200
    assert b"Associations" in page.content and b"Property values" in page.content
    settings_page = admin_client.get(f"/admin/syncengine/integration/{integration.pk}/google-sync/")
    assert settings_page.status_code == 200
    assert b"Only starred contacts" in settings_page.content


def test_api_usage_shows_the_per_minute_quota(integration, google, contacts, run, staff_api_client):
    google.ok("POST", "fill", json={"count": 2})
    run()
    usage = staff_api_client.get(f"/api/v1/integrations/{integration.pk}/api-usage/").json()
    assert usage["per_minute_quota"] == 90
    assert usage["used_last_minute"] >= 1 and usage["used_24h"] >= usage["used_last_minute"]
