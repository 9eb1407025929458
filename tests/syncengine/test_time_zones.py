"""X-5: each user sees times in their own zone, and nothing leaks between requests."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest
from django.contrib.admin.models import LogEntry
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import UserPreference
from accounts.selectors import get_time_zone
from accounts.services import set_time_zone
from tests.factories import SyncCycleFactory, SyncStageFactory, UserFactory
from tests.support.backups import make_backup

pytestmark = pytest.mark.django_db

DASHBOARD = "admin:syncengine_syncstage_changelist"
ISO_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


@pytest.fixture
def stage(integration, contacts):
    started = timezone.now() - dt.timedelta(minutes=5)
    cycle = SyncCycleFactory(integration=integration, status="success")
    return SyncStageFactory(
        cycle=cycle,
        integration=integration,
        object_type=contacts,
        operation="pull_updates",
        status="success",
        started_at=started,
        ended_at=started + dt.timedelta(seconds=30),
    )


def signed_in(zone: str | None) -> Client:
    """A browser session of a new super admin, with the zone as their preference if given."""
    user = UserFactory(is_staff=True, is_superuser=True)
    if zone:
        set_time_zone(user=user, time_zone=zone)
    client = Client()
    client.force_login(user)
    return client


def shown_in(stage, zone: str) -> str:
    local = stage.started_at.astimezone(zoneinfo.ZoneInfo(zone))
    return local.strftime("%Y-%m-%d %H:%M:%S ") + local.tzname()


def datetimes(body) -> list[str]:
    """Every ISO datetime string anywhere in an API answer."""
    if isinstance(body, dict):
        return [v for value in body.values() for v in datetimes(value)]
    if isinstance(body, list):
        return [v for value in body for v in datetimes(value)]
    return [body] if isinstance(body, str) and ISO_DATETIME.match(body) else []


def test_two_users_in_one_thread_see_their_own_zone_and_the_api_stays_utc(stage, contacts):
    make_backup()
    paris, new_york = signed_in("Europe/Paris"), signed_in("America/New_York")
    default = signed_in(None)
    for _ in range(2):  # alternating, all in this one thread
        for client, zone in ((paris, "Europe/Paris"), (new_york, "America/New_York")):
            page = client.get(reverse(DASHBOARD)).content.decode()
            assert shown_in(stage, zone) in page
            assert f"Times are shown in {zone}." in page
            # Right after a request that activated the user's zone: nothing leaked.
            assert timezone.get_current_timezone_name() == "UTC"
            answer = client.get("/api/v1/backups/")
            assert answer.status_code == 200
            stamps = datetimes(answer.json())
            assert stamps and all(s.endswith("Z") for s in stamps), stamps
        page = default.get(reverse(DASHBOARD)).content.decode()
        assert shown_in(stage, "UTC") in page  # settings.TIME_ZONE for a user who chose none


def test_the_picker_saves_the_preference_and_audits_it(stage):
    client = signed_in(None)
    page = client.get(reverse(DASHBOARD), {"tz": "Asia/Tokyo"}).content.decode()
    assert shown_in(stage, "Asia/Tokyo") in page
    user = UserPreference.objects.get().user
    assert get_time_zone(user) == "Asia/Tokyo"
    entry = LogEntry.objects.get(object_id=str(user.pk))
    assert entry.user_id == user.pk and "Asia/Tokyo" in entry.change_message
    # Kept for the next requests, without the picker's parameter.
    assert shown_in(stage, "Asia/Tokyo") in client.get(reverse(DASHBOARD)).content.decode()


def test_a_bad_zone_is_refused_and_nothing_changes(stage):
    client = signed_in("Europe/Paris")
    user = UserPreference.objects.get().user
    response = client.get(reverse(DASHBOARD), {"tz": "Mars/Olympus_Mons"}, follow=True)
    page = response.content.decode()
    assert response.status_code == 200
    assert "is not a known time zone" in page and "was not changed" in page
    assert shown_in(stage, "Europe/Paris") in page
    assert get_time_zone(user) == "Europe/Paris"
    with pytest.raises(ValidationError):
        set_time_zone(user=user, time_zone="../etc/passwd")
    other = UserFactory()
    with pytest.raises(ValidationError):
        set_time_zone(user=other, time_zone="Nowhere/Atlantis")
    assert get_time_zone(user) == "Europe/Paris"
    assert not UserPreference.objects.filter(user=other).exists()
    assert LogEntry.objects.count() == 1  # the fixture's own choice only
