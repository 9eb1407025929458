"""Where triage starts (SPEC T-3): the admin index's sync-health panel, the integrations list's
open-error counts and the bell, with "new since your last visit" kept per user and integration."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from notifications.models import SyncHealthVisit
from notifications.services import record_health_visit
from notifications.triage import get_bell, list_sync_health
from syncengine.models import SyncError
from syncengine.services.errors import record_sync_error, resolve_errors
from tests.factories import IntegrationFactory, UserFactory
from tests.support.roles import grant_role

pytestmark = pytest.mark.django_db

_remote_ids = itertools.count(1)


def open_error(integration, category: str, *, first_seen: dt.datetime | None = None) -> SyncError:
    """An open error recorded by the error service (so the health cards' counts include it)."""
    error = record_sync_error(
        integration=integration,
        category=category,
        code="FIELD_INTEGRITY_EXCEPTION",
        message="refused",
        remote_object="Contact",
        remote_id=f"003{next(_remote_ids):015d}",
    )
    if first_seen is not None:
        SyncError.objects.filter(pk=error.pk).update(
            first_seen_at=first_seen, last_seen_at=first_seen
        )
    return error


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def summary(user) -> dict[str, dict]:
    """The panel as {integration name: {"open", "new", "cards": {type: (open, new)}}}."""
    return {
        item.integration.name: {
            "open": item.open,
            "new": item.new,
            "cards": {c.category: (c.open, c.new) for c in item.cards},
        }
        for item in list_sync_health(user=user)
    }


@pytest.fixture
def staff():
    return UserFactory(is_staff=True, is_superuser=True)


def test_the_panel_counts_open_errors_and_those_new_since_the_users_last_visit(staff):
    now = timezone.now()
    seen, unseen, _quiet = (
        IntegrationFactory(name="Acme Salesforce"),
        IntegrationFactory(name="Beta Salesforce"),
        IntegrationFactory(name="Calm Salesforce"),
    )
    record_health_visit(user=staff, integration=seen, at=now - dt.timedelta(hours=1))
    open_error(seen, "picklists", first_seen=now - dt.timedelta(hours=3))
    open_error(seen, "picklists", first_seen=now - dt.timedelta(minutes=5))
    open_error(seen, "associations", first_seen=now - dt.timedelta(hours=2))
    open_error(unseen, "duplicates", first_seen=now - dt.timedelta(days=3))
    resolved = open_error(seen, "other", first_seen=now - dt.timedelta(minutes=1))
    resolve_errors(integration=seen, keys=[resolved.key])

    panel = summary(staff)

    assert panel == {
        # Seen an hour ago: only the picklist error of five minutes ago is new.
        "Acme Salesforce": {
            "open": 3,
            "new": 1,
            "cards": {"associations": (1, 0), "picklists": (2, 1)},
        },
        # Never opened by this user: everything current is new to them.
        "Beta Salesforce": {"open": 1, "new": 1, "cards": {"duplicates": (1, 1)}},
        "Calm Salesforce": {"open": 0, "new": 0, "cards": {}},
    }
    # Another user's visit is theirs alone.
    assert summary(UserFactory(is_staff=True))["Acme Salesforce"]["new"] == 3


def test_opening_the_health_page_makes_its_errors_old_for_that_user_only(staff):
    integration = IntegrationFactory(name="Acme Salesforce")
    colleague = UserFactory(is_staff=True, is_superuser=True)
    open_error(integration, "picklists", first_seen=timezone.now() - dt.timedelta(minutes=1))
    assert get_bell(user=staff, notifications=True, sync_errors=True).total == 1

    health = reverse("admin:syncengine_integration_health", args=[integration.pk])
    page = signed_in(staff).get(health)
    later = open_error(integration, "picklists")

    assert page.status_code == 200
    visit = SyncHealthVisit.objects.get(user=staff, integration=integration)
    assert visit.seen_at < later.first_seen_at
    bell = get_bell(user=staff, notifications=True, sync_errors=True)
    assert [(n.name, n.count) for n in bell.sync_errors] == [("Acme Salesforce", 1)]
    assert get_bell(user=colleague, notifications=True, sync_errors=True).total == 2


def test_a_second_visit_moves_the_mark_forward(staff):
    integration = IntegrationFactory()
    first, second = timezone.now() - dt.timedelta(hours=2), timezone.now()

    record_health_visit(user=staff, integration=integration, at=first)
    record_health_visit(user=staff, integration=integration, at=second)

    assert list(SyncHealthVisit.objects.values_list("seen_at", flat=True)) == [second]


def test_the_index_shows_the_panel_with_links_into_the_health_page_and_its_cards(staff):
    integration = IntegrationFactory(name="Acme Salesforce")
    open_error(integration, "picklists")
    open_error(integration, "picklists")
    health = reverse("admin:syncengine_integration_health", args=[integration.pk])

    html = signed_in(staff).get("/admin/").content.decode()

    assert 'id="sync-health-panel"' in html
    assert f'<a href="{health}">Acme Salesforce</a>' in html
    card = f'<a href="{health}?type=picklists">Picklists</a> 2 <span class="new">(2 new)</span>'
    assert card in html


def index_queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/admin/").status_code == 200
    return len(ctx.captured_queries)


def test_the_index_and_bell_cost_the_same_queries_for_one_integration_as_for_three(staff):
    client = signed_in(staff)
    first = IntegrationFactory()
    record_health_visit(user=staff, integration=first, at=timezone.now())
    for category in ("picklists", "duplicates"):
        open_error(first, category)
    one = index_queries(client)

    for _ in range(2):
        other = IntegrationFactory()
        record_health_visit(user=staff, integration=other, at=timezone.now())
        for category in ("associations", "permissions", "other"):
            open_error(other, category)
    three = index_queries(client)

    assert one == three


def test_the_panel_and_the_bell_are_a_fixed_number_of_queries(staff, django_assert_num_queries):
    for n in range(3):
        integration = IntegrationFactory()
        record_health_visit(user=staff, integration=integration, at=timezone.now())
        for category in ("picklists", "duplicates", "other")[: n + 1]:
            open_error(integration, category)

    # Integrations, the cards' kept counts with the user's visits, the errors new since them.
    with django_assert_num_queries(3):
        list_sync_health(user=staff)
    # Unread notifications, the cards with the user's visits, the errors new since them.
    with django_assert_num_queries(3):
        get_bell(user=staff, notifications=True, sync_errors=True)


def test_the_bell_lists_new_sync_errors_beside_unread_notifications(staff):
    from notifications.services import notify

    integration = IntegrationFactory(name="Acme Salesforce")
    for _ in range(3):
        open_error(integration, "property_values")
    notify(users=[staff], kind="backup_ready", title="Backup ready")
    health = reverse("admin:syncengine_integration_health", args=[integration.pk])

    html = signed_in(staff).get("/admin/crm/").content.decode()

    assert '<span class="badge">4</span>' in html
    assert "1 unread notification</a>" in html
    assert f'href="{health}">' in html and "3 new sync errors in Acme Salesforce" in html
    assert '<svg class="icon icon-bell"' in html and "&#128276;" not in html


def test_staff_without_the_sync_error_permission_see_no_panel_and_no_errors_in_the_bell():
    integration = IntegrationFactory(name="Acme Salesforce")
    open_error(integration, "picklists")
    # The User role: records, not the sync engine's health.
    clerk = grant_role(UserFactory(is_staff=True), "User")

    html = signed_in(clerk).get("/admin/").content.decode()

    assert 'id="sync-health-panel"' not in html
    assert "new sync error" not in html


def test_the_integrations_list_shows_open_errors_linked_to_the_health_page(staff):
    busy, calm = IntegrationFactory(name="Busy org"), IntegrationFactory(name="Calm org")
    for category in ("picklists", "picklists", "duplicates"):
        open_error(busy, category)
    resolved = open_error(calm, "other")
    resolve_errors(integration=calm, keys=[resolved.key])
    health = reverse("admin:syncengine_integration_health", args=[busy.pk])

    page = signed_in(staff).get(reverse("admin:syncengine_integration_changelist"))

    html = page.content.decode()
    assert "Open sync errors" in html
    assert f'<a class="open-errors" href="{health}"><b>3</b></a>' in html
    rows = {i.name: i.open_errors for i in page.context["cl"].result_list}
    assert rows == {"Busy org": 3, "Calm org": 0}


def test_manage_notifications_on_the_health_page_opens_the_users_own_settings(staff):
    integration = IntegrationFactory()
    client = signed_in(staff)
    page = client.get(reverse("admin:syncengine_integration_health", args=[integration.pk]))
    link = reverse("admin:notifications_notificationsetting_changelist")
    assert f'<a href="{link}">Manage notifications</a>' in page.content.decode()

    landing = client.get(link, follow=True)

    assert landing.status_code == 200
    assert landing.redirect_chain[-1][0].endswith(
        f"/notificationsetting/{staff.notification_setting.pk}/change/"
    )
    assert "Sync error emails" in landing.content.decode()
