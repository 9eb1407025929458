"""The sync status dashboard (issue 17, item 6): stages grouped by cycle, failed counts
highlighted and linked to the errors their stage reported, a stage with failures never just
"Success"; its query count does not grow with the stages shown."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from syncengine.models import SyncError
from tests.factories import IntegrationFactory, SyncCycleFactory, SyncStageFactory
from tests.support.error_chains import named, picklist_error

pytestmark = pytest.mark.django_db

DASHBOARD = "admin:syncengine_syncstage_changelist"


@pytest.fixture
def admin(staff_user) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


def cycle_of(integration, started: dt.datetime, operations: list[str], **stage):
    """A cycle whose stages started a minute apart, in the order given."""
    cycle = SyncCycleFactory(integration=integration, status="success", started_at=started)
    return [
        SyncStageFactory(
            cycle=cycle,
            operation=op,
            started_at=started + dt.timedelta(minutes=i),
            ended_at=started + dt.timedelta(minutes=i, seconds=30),
            status="success",
            **stage,
        )
        for i, op in enumerate(operations)
    ]


def shown(html: str) -> list[tuple[str, str]]:
    """("cycle" | "stage", id) for each row of the stage table, top to bottom."""
    return re.findall(r'<tr (?:class="cycle" )?data-(cycle|stage)="(\d+)"', html)


def test_stages_of_overlapping_cycles_are_grouped_not_interleaved(admin, crm_schema):
    # Given two integrations whose cycles ran at the same time, stages alternating
    now = timezone.now() - dt.timedelta(hours=1)
    ops = ["pull_updates", "push_updates"]
    a = cycle_of(IntegrationFactory(name="A"), now, ops)
    b = cycle_of(IntegrationFactory(name="B"), now + dt.timedelta(seconds=20), ops)
    # When the dashboard is opened (newest first)
    rows = shown(admin.get(reverse(DASHBOARD)).content.decode())
    # Then each cycle's header is followed by its own stages only
    ids = [("stage", str(s.pk)) for s in (b[1], b[0])], [("stage", str(s.pk)) for s in (a[1], a[0])]
    assert rows == [("cycle", str(b[0].cycle_id)), *ids[0], ("cycle", str(a[0].cycle_id)), *ids[1]]
    # Oldest first keeps the grouping too
    rows = shown(admin.get(reverse(DASHBOARD), {"o": "started_at"}).content.decode())
    assert [r for r in rows if r[0] == "cycle"] == [
        ("cycle", str(a[0].cycle_id)),
        ("cycle", str(b[0].cycle_id)),
    ]


def test_failed_counts_are_highlighted_linked_and_never_read_success(admin, crm_schema, companies):
    integration = IntegrationFactory(name="Org")
    started = timezone.now() - dt.timedelta(minutes=5)
    [stage] = cycle_of(integration, started, ["push_updates"], failed=36, updated=4)
    # An error the stage reported (last seen while it ran), and one seen before it
    company = named(companies, name="Globex")
    error = picklist_error(integration, company)
    SyncError.objects.filter(pk=error.pk).update(last_seen_at=started + dt.timedelta(seconds=10))
    older = picklist_error(integration, named(companies, name="Older"), value="X")
    SyncError.objects.filter(pk=older.pk).update(last_seen_at=started - dt.timedelta(hours=2))

    html = admin.get(reverse(DASHBOARD)).content.decode()
    row = re.search(rf'<tr data-stage="{stage.pk}".*?</tr>', html, re.S).group(0)
    assert "Completed with 36 failed" in row and ">Success<" not in row
    link = reverse("admin:syncengine_integration_health", args=[integration.pk])
    assert f'class="num failed"><a class="failed-link" href="{link}?stage={stage.pk}"' in row

    # Following it lists the errors that stage reported, and only those
    listed = admin.get(f"{link}?stage={stage.pk}").content.decode()
    assert f'data-id="{error.pk}"' in listed and f'data-id="{older.pk}"' not in listed
    assert "reported by the stage Push updates" in listed
    # Another integration's stage narrows nothing on this page
    other = cycle_of(IntegrationFactory(name="Other"), started, ["push_new"])[0]
    assert "reported by the stage" not in admin.get(f"{link}?stage={other.pk}").content.decode()


def test_the_api_says_the_same_status(staff_api_client, crm_schema):
    integration = IntegrationFactory(name="Org")
    cycle_of(integration, timezone.now(), ["push_new"], failed=2, new=5)
    [row] = staff_api_client.get("/api/v1/sync-stages/").json()["results"]
    assert (row["status"], row["status_label"]) == ("success", "Completed with 2 failed")


def test_dashboard_queries_stay_constant_as_stages_grow(admin, crm_schema, contacts):
    integration = IntegrationFactory(name="Org")
    ops = ["pull_updates", "push_new", "push_updates", "update_foreign_keys"]
    start = timezone.now() - dt.timedelta(hours=3)
    cycle_of(integration, start, ops, object_type=contacts, failed=1)
    admin.get(reverse(DASHBOARD))
    with CaptureQueriesContext(connection) as one:
        admin.get(reverse(DASHBOARD))
    for i in range(1, 6):
        cycle_of(integration, start + dt.timedelta(minutes=10 * i), ops, object_type=contacts)
    with CaptureQueriesContext(connection) as six:
        html = admin.get(reverse(DASHBOARD)).content.decode()
    assert len(shown(html)) == 6 * 5  # six headers, 24 stages
    assert len(six.captured_queries) == len(one.captured_queries)
