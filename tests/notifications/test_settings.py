"""Notification settings: API and admin of one's own settings, notices that respect them,
and the admin bell."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications.models import NotificationSetting
from notifications.services import notify, update_setting
from tests.factories import IntegrationFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/notification-settings/"


def test_api_reads_defaults_and_changes_only_your_own(api_client, user, staff_user):
    update_setting(user=staff_user, changes={"daily_hour": 6})
    integration = IntegrationFactory(name="Salesforce")

    assert api_client.get(URL).data["daily_hour"] == 8
    patched = api_client.patch(URL, {"time_zone": "Asia/Tokyo", "weekly_day": 4}, format="json")
    put = api_client.put(
        URL,
        {
            "sync_errors_frequency": "instantly",
            "integrations": [{"integration": integration.pk, "enabled": False}],
        },
        format="json",
    )

    assert patched.status_code == 200 and patched.data["time_zone"] == "Asia/Tokyo"
    assert put.status_code == 200 and put.data["integrations"] == [
        {"integration": integration.pk, "enabled": False, "frequency": "daily"}
    ]
    mine = NotificationSetting.objects.get(user=user)
    assert (mine.sync_errors_frequency, mine.weekly_day) == ("instantly", 4)
    assert NotificationSetting.objects.get(user=staff_user).daily_hour == 6


@pytest.mark.parametrize(
    "body",
    [
        {"time_zone": "Mars/Olympus", "daily_hour": 9},
        {"daily_hour": 24},
        {"weekly_day": 7},
        {"sync_errors_frequency": "hourly"},
        {"integrations": [{"integration": 999_999}]},
        {"daily_hour": 9, "integrations": "all"},
        ["not", "an", "object"],
    ],
)
def test_api_bad_input_is_a_400_that_changes_nothing(api_client, user, body):
    update_setting(user=user, changes={"daily_hour": 7})

    response = api_client.patch(URL, body, format="json")

    assert response.status_code == 400
    assert NotificationSetting.objects.get(user=user).daily_hour == 7


def test_api_refuses_an_integration_listed_twice(api_client, user):
    integration = IntegrationFactory(name="Salesforce")
    item = {"integration": integration.pk}

    response = api_client.put(URL, {"integrations": [item, item]}, format="json")

    assert response.status_code == 400 and "integrations" in response.data["errors"]
    assert not NotificationSetting.objects.filter(user=user).exists()


def test_api_needs_sign_in(db):
    from rest_framework.test import APIClient

    assert APIClient().get(URL).status_code in (401, 403)


def test_notify_respects_turned_off_notices_but_always_reports_failures(user, staff_user):
    update_setting(user=user, changes={"backup_ready_enabled": False})

    ready = notify(users=[user, staff_user], kind="backup_ready", title="Ready")
    failed = notify(users=[user, staff_user], kind="backup_failed", title="Failed")
    restored = notify(users=[user], kind="restore_done", title="Restored")

    assert [n.user_id for n in ready] == [staff_user.pk]
    assert len(failed) == 2 and len(restored) == 1


def test_admin_settings_page_is_your_own(staff_client, staff_user):
    theirs = update_setting(user=staff_user, changes={})

    page = staff_client.get("/admin/notifications/notificationsetting/", follow=True)
    mine = NotificationSetting.objects.get(user=staff_client.user)
    saved = staff_client.post(
        f"/admin/notifications/notificationsetting/{mine.pk}/change/",
        {
            "sync_errors_enabled": "on",
            "sync_errors_frequency": "weekly",
            "backup_ready_enabled": "on",
            "time_zone": "Europe/Berlin",
            "daily_hour": "7",
            "weekly_day": "3",
            "integrations-TOTAL_FORMS": "0",
            "integrations-INITIAL_FORMS": "0",
        },
    )
    other = staff_client.get(f"/admin/notifications/notificationsetting/{theirs.pk}/change/")

    assert page.status_code == 200 and page.redirect_chain[-1][0].endswith(f"/{mine.pk}/change/")
    assert saved.status_code == 302
    mine.refresh_from_db()
    assert (mine.sync_errors_frequency, mine.time_zone, mine.restore_done_enabled) == (
        "weekly",
        "Europe/Berlin",
        False,
    )
    assert other.status_code in (302, 404)


def test_admin_bell_shows_the_unread_count_in_one_query(staff_client, staff_user):
    notify(users=[staff_client.user], kind="backup_ready", title="One")
    notify(users=[staff_client.user], kind="restore_done", title="Two")
    notify(users=[staff_user], kind="backup_ready", title="Not yours")

    with CaptureQueriesContext(connection) as queries:
        page = staff_client.get("/admin/").content.decode()

    assert 'id="notification-bell"' in page and '<span class="badge">2</span>' in page
    assert "/admin/notifications/notification/?read=no" in page
    bell = [q for q in queries.captured_queries if "notifications_notification" in q["sql"]]
    assert len(bell) == 1


@pytest.mark.parametrize(
    "item", [{}, {"enabled": False}, {"frequency": "weekly"}], ids=["empty", "enabled", "frequency"]
)
def test_an_integration_item_without_its_integration_is_a_400(api_client, user, item):
    # A PATCH is partial down to the items, so DRF did not require the key: a KeyError, a 500.
    integration = IntegrationFactory(name="Salesforce")
    update_setting(
        user=user, changes={"daily_hour": 6}, integrations=[{"integration": integration}]
    )
    before = list(NotificationSetting.objects.get(user=user).integrations.values())

    response = api_client.patch(URL, {"daily_hour": 9, "integrations": [item]}, format="json")

    assert response.status_code == 400, response.content[:300]
    assert response.json()["errors"]["integrations"]["0"] == {
        "integration": ["This field is required."]
    }
    mine = NotificationSetting.objects.get(user=user)
    assert mine.daily_hour == 6
    assert list(mine.integrations.values()) == before
