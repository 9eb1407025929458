"""The sync status dashboard (admin) and the REST API of the sync engine."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from syncengine import selectors
from syncengine.models import FieldMapping, SyncCycle
from tests.factories import SyncCycleFactory, SyncStageFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def stages(integration, contacts, companies):
    cycle = SyncCycleFactory(integration=integration, status="success")
    now = timezone.now()

    def make(minutes_ago, **kw):
        started = now - dt.timedelta(minutes=minutes_ago)
        return SyncStageFactory(
            cycle=cycle,
            integration=integration,
            started_at=started,
            ended_at=started + dt.timedelta(seconds=30),
            **kw,
        )

    return {
        "old": make(60 * 24 * 6, operation="push_new", object_type=contacts, status="success"),
        "failed": make(
            30,
            operation="push_new",
            object_type=contacts,
            remote_object="Contact",
            status="failed",
            failed=3,
        ),
        "pull": make(
            20,
            operation="pull_updates",
            object_type=companies,
            remote_object="Account",
            status="success",
            updated=7,
            skipped=2,
        ),
        "incomplete": make(
            10,
            operation="push_updates",
            object_type=contacts,
            remote_object="Contact",
            status="incomplete",
            updated=200,
        ),
    }


def rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_dashboard_lists_recent_stages_newest_first(client, staff_user, stages):
    client.force_login(staff_user)
    response = client.get(reverse("admin:syncengine_syncstage_changelist"), {"tz": "Europe/Oslo"})
    assert response.status_code == 200
    page = list(response.context["page"])
    assert page == [stages["incomplete"], stages["pull"], stages["failed"]]  # 6 days old: gone
    local = timezone.localtime(stages["pull"].started_at, dt.timezone(dt.timedelta(hours=1)))
    html = response.content.decode()
    assert "CET" in html or "CEST" in html  # shown in the chosen zone
    assert local.strftime("%Y-%m-%d") in html
    assert "Incomplete" in html and "Pull updates" in html


def test_dashboard_filters_sorts_and_exports(client, staff_user, stages):
    client.force_login(staff_user)
    url = reverse("admin:syncengine_syncstage_changelist")
    response = client.get(url, {"status": "failed"})
    assert list(response.context["page"]) == [stages["failed"]]
    response = client.get(url, {"object_type": "contacts", "operation": "push_updates"})
    assert list(response.context["page"]) == [stages["incomplete"]]
    after = (timezone.now() - dt.timedelta(minutes=25)).strftime("%Y-%m-%dT%H:%M")
    response = client.get(url, {"started_after": after, "tz": "UTC", "o": "started_at"})
    assert list(response.context["page"]) == [stages["pull"], stages["incomplete"]]
    export = client.get(reverse("admin:syncengine_syncstage_export"), {"object_type": "contacts"})
    assert export["Content-Type"].startswith("text/csv")
    table = rows(export)
    assert table[0][:7] == [
        "Start",
        "End",
        "Integration",
        "Object type",
        "Remote object",
        "Operation",
        "Status",
    ]
    assert [r[6] for r in table[1:]] == ["Incomplete", "Failed"]


def test_dashboard_needs_admin_permission(client, stages):
    staff = UserFactory(is_staff=True)
    client.force_login(staff)
    assert client.get(reverse("admin:syncengine_syncstage_changelist")).status_code == 403
    assert client.get(reverse("admin:syncengine_syncstage_export")).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_syncstage"))
    client.force_login(staff)
    assert client.get(reverse("admin:syncengine_syncstage_changelist")).status_code == 200


def test_integration_admin_pages_render(client, staff_user, integration, run, stages):
    client.force_login(staff_user)
    assert client.get(reverse("admin:syncengine_integration_changelist")).status_code == 200
    assert (
        client.get(
            reverse("admin:syncengine_integration_change", args=[integration.pk])
        ).status_code
        == 200
    )
    om = integration.object_mappings.get(remote_object="Contact")
    assert (
        client.get(reverse("admin:syncengine_objectmapping_change", args=[om.pk])).status_code
        == 200
    )
    response = client.post(
        reverse("admin:syncengine_integration_changelist"),
        {"action": "sync_now", "_selected_action": [integration.pk]},
    )
    assert response.status_code == 302
    assert SyncCycle.objects.filter(integration=integration, trigger="manual").exists()


def test_api_integrations_and_usage(staff_api_client, integration, run):
    listing = staff_api_client.get("/api/v1/integrations/").json()
    assert [i["id"] for i in listing] == [integration.pk]
    detail = staff_api_client.patch(
        f"/api/v1/integrations/{integration.pk}/",
        {"settings": {"sync_interval_minutes": 15}},
        format="json",
    )
    assert detail.status_code == 200 and detail.json()["settings"]["sync_interval_minutes"] == 15
    bad = staff_api_client.patch(
        f"/api/v1/integrations/{integration.pk}/",
        {"settings": {"sync_interval_minutes": 0}},
        format="json",
    )
    assert bad.status_code == 400
    run()
    usage = staff_api_client.get(f"/api/v1/integrations/{integration.pk}/api-usage/").json()
    assert usage["used_24h"] > 0 and usage["limit"] == 15000 and usage["allocated"] is None
    patched = staff_api_client.patch(
        f"/api/v1/integrations/{integration.pk}/api-usage/", {"allocated": 5000}, format="json"
    )
    assert patched.json()["allocated"] == 5000
    integration.refresh_from_db()
    assert integration.api_allocation == 5000


def test_api_starts_a_cycle_once(staff_api_client, integration):
    first = staff_api_client.post(f"/api/v1/integrations/{integration.pk}/sync/")
    second = staff_api_client.post(f"/api/v1/integrations/{integration.pk}/sync/")
    assert first.status_code == second.status_code == 202
    assert first.json()["created"] and not second.json()["created"]
    assert first.json()["cycle"] == second.json()["cycle"]


def test_api_mappings_read_and_edit(staff_api_client, integration, run):
    run()
    url = f"/api/v1/integrations/{integration.pk}/mappings/"
    mappings = staff_api_client.get(url).json()
    contact = next(m for m in mappings if m["remote_object"] == "Contact")
    email = next(f for f in contact["field_mappings"] if f["remote_field"] == "Email")
    assert email["property"] == "email" and email["rule"] == "two_way" and email["is_default"]
    assert contact["reference_mappings"][0]["remote_field"] == "AccountId"
    response = staff_api_client.patch(
        url, {"field_mappings": [{"id": email["id"], "rule": "always_remote"}]}, format="json"
    )
    assert response.status_code == 200
    assert FieldMapping.objects.get(pk=email["id"]).rule == "always_remote"
    refused = staff_api_client.post(
        url,
        {"object_mapping": contact["id"], "property": "firstname", "remote_field": "Birthdate"},
        format="json",
    )
    assert refused.status_code == 400 and "remote_field" in refused.json()["errors"]
    added = staff_api_client.post(
        url,
        {
            "object_mapping": contact["id"],
            "property": "company",
            "remote_field": "Department",
            "rule": "always_concord",
        },
        format="json",
    )
    assert added.status_code == 201
    assert FieldMapping.objects.filter(remote_field="Department", is_default=False).exists()


def test_api_stages_filters_and_export(staff_api_client, stages):
    response = staff_api_client.get("/api/v1/sync-stages/", {"status": "incomplete"})
    assert [s["id"] for s in response.json()["results"]] == [stages["incomplete"].pk]
    response = staff_api_client.get(
        "/api/v1/sync-stages/", {"object_type": "contacts", "ordering": "-ended_at"}
    )
    assert [s["id"] for s in response.json()["results"]] == [
        stages["incomplete"].pk,
        stages["failed"].pk,
    ]
    after = (timezone.now() - dt.timedelta(minutes=25)).isoformat()
    response = staff_api_client.get("/api/v1/sync-stages/", {"started_after": after})
    assert {s["id"] for s in response.json()["results"]} == {
        stages["pull"].pk,
        stages["incomplete"].pk,
    }
    export = staff_api_client.get("/api/v1/sync-stages/export/", {"operation": "pull_updates"})
    table = rows(export)
    assert len(table) == 2 and table[1][5] == "Pull updates" and table[1][8] == "7"


def test_api_needs_admin(api_client, integration):
    assert api_client.get("/api/v1/integrations/").status_code == 403
    assert api_client.get("/api/v1/sync-stages/").status_code == 403


@pytest.mark.parametrize(
    "params",
    [
        {"status": "failed"},
        {"object_type": "contacts", "operation": "push_updates"},
        {"object_type": "contacts", "ordering": "started_at"},
        {"ordering": "-ended_at"},
    ],
)
def test_one_filterset_answers_the_dashboard_the_api_and_the_selector(
    client, staff_user, staff_api_client, stages, params
):
    expected = list(selectors.list_stages(filters=params))
    client.force_login(staff_user)
    on_page = {("o" if key == "ordering" else key): value for key, value in params.items()}

    page = client.get(reverse("admin:syncengine_syncstage_changelist"), on_page)
    listed = staff_api_client.get("/api/v1/sync-stages/", params).json()["results"]

    assert expected and list(page.context["page"]) == expected
    assert [row["id"] for row in listed] == [stage.pk for stage in expected]


def test_the_selector_leaves_out_filter_values_it_cannot_read(stages):
    unreadable = {"integration": "x", "status": "nonsense", "started_after": "yesterday"}

    assert list(selectors.list_stages(filters=unreadable)) == list(selectors.list_stages())
    assert stages["old"] not in selectors.list_stages()  # older than the dashboard's days
