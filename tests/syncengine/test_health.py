"""Sync health (SPEC H): cards and counts from the errors the engine produced against the
sandbox, lists per type, resync (at most 100) that resolves or re-opens, CSV export, permissions."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm.errors import SavedViewError
from crm.models import Record, SavedView
from crm.services.records import create_record
from crm.services.saved_views import create_saved_view
from syncengine.health.services import run_resync
from syncengine.models import ApiCallBucket, ObjectMapping, RecordLink, SyncError
from syncengine.services.errors import record_sync_error, resolve_errors
from tests.factories import IntegrationFactory, ObjectMappingFactory, UserFactory
from tests.support.sync import member_of_a_refused_company, refused_duplicate

pytestmark = pytest.mark.django_db

TYPES = [
    "associations",
    "custom_code",
    "duplicates",
    "permissions",
    "picklists",
    "property_values",
    "property_mappings",
    "other",
]


def health_url(integration) -> str:
    return f"/api/v1/integrations/{integration.pk}/health/"


def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def broken(integration, sandbox, run, contacts, companies):
    """Records the sandbox's org rules refuse, one cycle run: errors of several types."""
    no_last = create_record(object_type=contacts, properties={"email": "n@x.com"}, source="user")
    estates = create_record(
        object_type=companies,
        properties={"name": "Estates", "industry": "REAL_ESTATE"},
        source="user",
    )
    blocked_company, member = member_of_a_refused_company(
        contacts, companies, email="m@x.com", lastname="Member"
    )
    run()
    return {"no_last": no_last, "estates": estates, "company": blocked_company, "member": member}


def test_cards_count_the_errors_the_engine_produced(staff_api_client, integration, broken):
    # Given the cycle's errors; when the health endpoint is read
    body = staff_api_client.get(health_url(integration)).json()
    # Then all eight cards are there, in order, zeros included
    cards = {c["type"]: c for c in body["cards"]}
    assert [c["type"] for c in body["cards"]] == [v for v, _ in SyncError.Category.choices]
    assert set(cards) == set(TYPES)
    assert (cards["property_values"]["errors"], cards["property_values"]["affected_records"]) == (
        1,
        1,
    )
    assert (cards["picklists"]["errors"], cards["picklists"]["affected_records"]) == (1, 1)
    # The company the trigger refuses is a custom-code error; its contact is what it blocks
    assert cards["custom_code"]["errors"] == 1
    assert (cards["associations"]["errors"], cards["associations"]["affected_records"]) == (1, 1)
    assert cards["duplicates"] == {
        "type": "duplicates",
        "label": "Duplicates",
        "errors": 0,
        "affected_records": 0,
    }
    assert set(body["api_usage"]) == {"used_24h", "limit", "allocated"}
    assert body["api_usage"]["used_24h"] > 0 and body["api_usage"]["limit"]
    # Resolved errors leave the cards (H-6)
    resolve_errors(
        integration=integration,
        keys=SyncError.objects.filter(category="picklists").values_list("key", flat=True),
    )
    cards = {c["type"]: c for c in staff_api_client.get(health_url(integration)).json()["cards"]}
    assert cards["picklists"]["errors"] == 0


def test_error_list_per_type_with_links_and_steps(staff_api_client, integration, broken):
    response = staff_api_client.get(
        "/api/v1/sync-errors/", {"integration": integration.pk, "type": "associations"}
    )
    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["record"] == broken["company"].pk == row["blocking_record"]
    assert row["affected_records"] == 1 and row["code"] == "ASSOCIATED_RECORD_NOT_SYNCED"
    detail = staff_api_client.get(f"/api/v1/sync-errors/{row['id']}/").json()
    assert detail["resolution_steps"] and "blocking record" in detail["explanation"]
    assert detail["record_url"].endswith(f"/objects/companies/records/{broken['company'].pk}/")
    [picklist] = staff_api_client.get("/api/v1/sync-errors/", {"type": "picklists"}).json()[
        "results"
    ]
    assert (picklist["remote_field"], picklist["property"]) == ("Industry", "industry")
    assert picklist["affected_records"] == 1


def test_admin_page_cards_list_and_affected_records(staff_user, integration, broken):
    client = admin_client(staff_user)
    url = reverse("admin:syncengine_integration_health", args=[integration.pk])
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    for label in ["Associations", "Custom code", "Duplicates", "Property mappings", "Other"]:
        assert label in html
    assert 'id="usage-chart"' in html and "Manage notifications" in html
    # Clicking a card lists its errors with the Salesforce link and the type's help
    html = client.get(url, {"type": "associations"}).content.decode()
    error = SyncError.objects.get(category="associations")
    assert f'data-id="{error.pk}"' in html and "How to resolve" in html
    # "[N] records" opens the record list filtered to the affected records, saying why
    affected = client.get(
        reverse("admin:syncengine_integration_health_affected", args=[integration.pk, error.pk])
    )
    assert affected.status_code == 302
    assert f"sync_error={error.pk}" in affected["Location"]
    listing = client.get(affected["Location"])
    assert listing.status_code == 200
    html = listing.content.decode()
    assert "Member" in html and "n@x.com" not in html
    assert f"affected by Associations sync error #{error.pk}" in html and "Sync health" in html


def test_duplicates_list_shows_the_value_and_both_records(
    integration, sandbox, run, contacts, staff_user
):
    record = refused_duplicate(integration, sandbox, contacts)
    run()
    html = (
        admin_client(staff_user)
        .get(
            reverse("admin:syncengine_integration_health", args=[integration.pk]),
            {"type": "duplicates"},
        )
        .content.decode()
    )
    assert "Duplicated value" in html and "Other Salesforce record" in html
    assert str(record) in html


def test_resync_of_a_fixed_record_resolves_its_error(
    staff_api_client, integration, sandbox, run, contacts, django_capture_on_commit_callbacks
):
    # Given a duplicate refused by the org's duplicate rule
    ObjectMapping.objects.filter(integration=integration, remote_object="Contact").update(
        direction="to_remote"
    )
    existing = sandbox.create("Contact", LastName="Existing", Email="dupe@x.com")
    record = create_record(
        object_type=contacts, properties={"email": "dupe@x.com", "lastname": "Dupe"}, source="user"
    )
    run()
    error = SyncError.objects.get(record=record, category="duplicates")
    RecordLink.objects.filter(record=record).update(dirty=False)
    # When the duplicate is removed in Salesforce and staff resync the error
    sandbox.delete("Contact", existing)
    with django_capture_on_commit_callbacks() as callbacks:
        response = staff_api_client.post(
            "/api/v1/sync-errors/resync/", {"ids": [error.pk]}, format="json"
        )
    assert response.status_code == 202 and response.json()["resyncing"] == 1
    assert len(callbacks) == 1  # the targeted push is queued now, not at the next cycle
    error.refresh_from_db()
    assert error.status == "resyncing"
    assert RecordLink.objects.get(record=record).dirty
    assert run_resync(integration_id=integration.pk)
    # Then the record synced and its error resolved
    error.refresh_from_db()
    assert error.status == "resolved"
    assert RecordLink.objects.get(record=record).remote_id
    assert integration.cycles.filter(trigger="resync").count() == 1


def test_resync_of_a_still_broken_record_reopens_with_new_details(
    staff_api_client, integration, sandbox, run, contacts
):
    record = create_record(object_type=contacts, properties={"email": "n@x.com"}, source="user")
    run()
    error = SyncError.objects.get(record=record)
    staff_api_client.post("/api/v1/sync-errors/resync/", {"ids": [error.pk]}, format="json")
    assert run_resync(integration_id=integration.pk)
    before = error.last_seen_at
    error.refresh_from_db()
    assert error.status == "open" and error.occurrences == 2 and error.last_seen_at > before


def test_resync_of_an_association_queues_the_blocking_record_first(staff_user, integration, broken):
    error = SyncError.objects.get(category="associations")
    RecordLink.objects.filter(integration=integration).update(dirty=False)
    client = admin_client(staff_user)
    url = reverse("admin:syncengine_integration_health", args=[integration.pk])
    response = client.post(url, {"ids": [str(error.pk)], "back": f"{url}?type=associations"})
    assert response.status_code == 302 and response["Location"].endswith("?type=associations")
    dirty = set(
        RecordLink.objects.filter(integration=integration, dirty=True).values_list(
            "record_id", flat=True
        )
    )
    assert dirty == {broken["company"].pk, broken["member"].pk}
    error.refresh_from_db()
    assert error.status == "resyncing"


# --- without the sandbox: errors recorded directly ------------------------------------------


@pytest.fixture
def offline(db, crm_schema, contacts):

    integration = IntegrationFactory(name="Org", instance_url="https://example.my.salesforce.com")
    ObjectMappingFactory(integration=integration, object_type=contacts, remote_object="Contact")
    return integration


def make_errors(integration, contacts, n: int, category: str = "property_values") -> list:
    errors = []
    for i in range(n):
        record = Record.objects.create(
            object_type=contacts,
            properties={"email": f"e{i}@x.com", "lastname": f"L{i}"},
            created_at=timezone.now(),
            updated_at=timezone.now(),
        )
        errors.append(
            record_sync_error(
                integration=integration,
                category=category,
                code="REQUIRED_FIELD_MISSING",
                message=f"=HYPERLINK bad {i}",
                object_type_id=contacts.pk,
                record_id=record.pk,
                remote_object="Contact",
                remote_id=f"003000000000{i:03d}AAA",
                remote_field="LastName",
                property_name="lastname",
                details={"fields": ["LastName"]},
                affected_record_ids=[record.pk],
            )
        )
    return errors


def test_more_than_100_ids_are_refused_and_nothing_changes(
    staff_api_client, offline, contacts, django_capture_on_commit_callbacks
):
    errors = make_errors(offline, contacts, 101)
    with django_capture_on_commit_callbacks() as callbacks:
        response = staff_api_client.post(
            "/api/v1/sync-errors/resync/", {"ids": [e.pk for e in errors]}, format="json"
        )
    assert response.status_code == 400
    assert "re-import" in str(response.json()) and "update a mapped property" in str(
        response.json()
    )
    assert not callbacks
    assert not SyncError.objects.exclude(status="open").exists()
    assert not SyncError.objects.exclude(resync_requested_at=None).exists()
    assert not RecordLink.objects.exists()
    # The admin page refuses the same way
    client = admin_client(UserFactory(is_staff=True, is_superuser=True))
    url = reverse("admin:syncengine_integration_health", args=[offline.pk])
    page = client.post(url, {"ids": [str(e.pk) for e in errors]}, follow=True)
    assert "re-import" in page.content.decode()
    assert not SyncError.objects.exclude(status="open").exists()


def test_100_ids_are_accepted(staff_api_client, offline, contacts):
    errors = make_errors(offline, contacts, 100)
    response = staff_api_client.post(
        "/api/v1/sync-errors/resync/", {"ids": [e.pk for e in errors]}, format="json"
    )
    assert response.status_code == 202
    assert response.json() == {"resyncing": 100, "records": 100, "skipped": 0}
    assert RecordLink.objects.filter(dirty=True).count() == 100


@pytest.mark.parametrize(
    "payload",
    [{}, {"ids": []}, {"ids": "1,2"}, {"ids": ["x"]}, {"ids": [0]}, {"ids": [999999]}],
)
def test_bad_resync_input_is_a_400_and_changes_nothing(
    staff_api_client, offline, contacts, payload
):
    make_errors(offline, contacts, 2)
    response = staff_api_client.post("/api/v1/sync-errors/resync/", payload, format="json")
    assert response.status_code == 400
    assert not SyncError.objects.exclude(status="open").exists()


@pytest.mark.parametrize(
    "params", [{"type": "bogus"}, {"status": "gone"}, {"integration": "x"}, {"cursor": "abc"}]
)
def test_bad_filters_are_400s(staff_api_client, offline, params):
    assert staff_api_client.get("/api/v1/sync-errors/", params).status_code == 400


def test_keyset_pages_cover_every_error_once(staff_api_client, offline, contacts):
    errors = make_errors(offline, contacts, 7)
    seen, url, params = [], "/api/v1/sync-errors/", {"limit": 3, "integration": offline.pk}
    while url:
        body = staff_api_client.get(url, params).json()
        seen += [row["id"] for row in body["results"]]
        url, params = body["next"], None
    assert seen == sorted((e.pk for e in errors), reverse=True)


def test_list_query_counts_do_not_grow_with_rows(
    staff_api_client, staff_user, offline, contacts, django_assert_num_queries
):
    make_errors(offline, contacts, 3)
    client = admin_client(staff_user)
    page_url = reverse("admin:syncengine_integration_health", args=[offline.pk])

    def count(call) -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert call().status_code == 200
        return len(ctx.captured_queries)

    api = count(lambda: staff_api_client.get("/api/v1/sync-errors/", {"type": "property_values"}))
    health = count(lambda: staff_api_client.get(health_url(offline)))
    # The first visit is remembered after the page is drawn; from the second on, the bell
    # also counts the errors new since it (one query, whatever their number).
    client.get(page_url)
    page = count(lambda: client.get(page_url, {"type": "property_values"}))
    make_errors(offline, contacts, 40)
    # Pinned: auth + one page query (records, types, affected counts joined in)
    with django_assert_num_queries(api):
        staff_api_client.get("/api/v1/sync-errors/", {"type": "property_values"})
    with django_assert_num_queries(health):
        staff_api_client.get(health_url(offline))
    assert count(lambda: client.get(page_url, {"type": "property_values"})) == page
    assert health <= 5 and api <= 4


def test_export_streams_the_filtered_errors_as_csv(staff_api_client, staff_user, offline, contacts):
    make_errors(offline, contacts, 3)
    make_errors(offline, contacts, 2, category="other")
    response = staff_api_client.get("/api/v1/sync-errors/export/", {"type": "other"})
    assert response.status_code == 200 and response.streaming
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 2 and {r["Type"] for r in rows} == {"Other"}
    assert rows[0]["Salesforce URL"].startswith(
        "https://example.my.salesforce.com/lightning/r/Contact/003"
    )
    assert rows[0]["Message"].startswith("'=")  # no formula injection
    assert rows[0]["Details"] == "Fields: LastName"  # words, not a printed dict
    admin_export = admin_client(staff_user).get(
        reverse("admin:syncengine_integration_health_export", args=[offline.pk])
    )
    assert (
        len(list(csv.reader(io.StringIO(b"".join(admin_export.streaming_content).decode())))) == 6
    )


def test_only_staff_with_the_sync_permission_see_or_act(api_client, offline, contacts):
    [error] = make_errors(offline, contacts, 1)
    resync = {"ids": [error.pk]}
    assert api_client.get(health_url(offline)).status_code == 403
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_syncerror"))
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(viewer)
    assert client.get(health_url(offline)).status_code == 200
    export = client.get("/api/v1/sync-errors/export/")
    assert export.status_code == 200
    # Read to the end: a stream left half-read keeps its server-side cursor, and closing that
    # cursor later (when the response is collected) fails inside another test's transaction.
    b"".join(export.streaming_content)
    assert client.post("/api/v1/sync-errors/resync/", resync, format="json").status_code == 403
    plain_staff = UserFactory(is_staff=True)
    client.force_authenticate(plain_staff)
    assert client.get(health_url(offline)).status_code == 403
    page = reverse("admin:syncengine_integration_health", args=[offline.pk])
    assert admin_client(plain_staff).get(page).status_code == 403
    assert admin_client(viewer).post(page, {"ids": [str(error.pk)]}).status_code == 403
    error.refresh_from_db()
    assert error.status == "open"


def test_allocation_is_edited_in_place_and_usage_is_charted(staff_user, offline):
    ApiCallBucket.objects.create(integration=offline, minute=timezone.now(), calls=7)
    client = admin_client(staff_user)
    url = reverse("admin:syncengine_integration_health", args=[offline.pk])
    assert client.post(url, {"allocated": "5000"}).status_code == 302
    offline.refresh_from_db()
    assert offline.api_allocation == 5000
    client.post(url, {"allocated": "lots"})
    offline.refresh_from_db()
    assert offline.api_allocation == 5000
    html = client.get(url).content.decode()
    assert 'id="used-24h">7<' in html and "7 calls" in html


def test_unknown_integration_is_404(staff_api_client):
    assert staff_api_client.get("/api/v1/integrations/999999/health/").status_code == 404


def test_settled_errors_that_the_cycle_did_not_reach_reopen(offline, contacts, monkeypatch):
    [error] = make_errors(offline, contacts, 1)
    SyncError.objects.filter(pk=error.pk).update(
        status="resyncing", resync_requested_at=error.last_seen_at
    )
    from syncengine.health import services

    def fake_run_cycle(*, cycle_id, connector=None):
        from syncengine.models import SyncCycle

        SyncCycle.objects.filter(pk=cycle_id).update(
            status="success", started_at=timezone.now(), ended_at=timezone.now()
        )

    monkeypatch.setattr("syncengine.engine.cycles.run_cycle", fake_run_cycle)
    monkeypatch.setattr("syncengine.tasks.run_cycle_task.delay", lambda **kw: None)
    assert services.run_resync(integration_id=offline.pk)
    error.refresh_from_db()
    assert error.status == "open"


def test_the_sync_error_filter_is_for_who_may_read_sync_errors(offline, contacts, api_client):
    [error] = make_errors(offline, contacts, 1)
    listing = f"/admin/crm/record/?type=contacts&sync_error={error.pk}"
    banner = f"sync error #{error.pk} of Org"
    clerk = UserFactory(is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_record"))
    # Without view_syncerror the parameter is unknown: the admin's bad-parameter page, no banner.
    refused = admin_client(clerk).get(listing, follow=True)
    assert refused.redirect_chain[0] == ("/admin/crm/record/?e=1", 302)
    assert banner not in refused.content.decode()
    with pytest.raises(SavedViewError, match="“sync_error” is not a filter of the contacts list"):
        create_saved_view(
            owner=clerk, object_type=contacts, name="E", query=f"sync_error={error.pk}"
        )
    saved = api_client.post(
        "/api/v1/views/",
        {"name": "E", "object_type": "contacts", "query": f"sync_error={error.pk}"},
        format="json",
    )
    assert saved.status_code == 400 and "“sync_error” is not a filter" in saved.json()["detail"]
    assert not SavedView.objects.exists()
    # With it, the banner and the filter.
    clerk.user_permissions.add(Permission.objects.get(codename="view_syncerror"))
    clerk = type(clerk).objects.get(pk=clerk.pk)  # no stale permission cache
    shown = admin_client(clerk).get(listing)
    assert shown.status_code == 200 and banner in shown.content.decode()
    create_saved_view(owner=clerk, object_type=contacts, name="E", query=f"sync_error={error.pk}")


@pytest.mark.parametrize("bad", ["²", "x", "99999999999999999999", "999999"])
def test_a_sync_error_that_names_no_error_lists_nothing(offline, contacts, staff_user, bad):
    make_errors(offline, contacts, 1)
    response = admin_client(staff_user).get(f"/admin/crm/record/?type=contacts&sync_error={bad}")
    assert response.status_code == 200
    assert response.context["cl"].result_count == 0
