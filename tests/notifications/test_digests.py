"""Sync-error digests over a real SMTP server: content per frequency, batching, time zones,
exactly-once claims, fan-out and unsubscribe."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.services.records import create_record
from notifications import selectors, tasks
from notifications.models import DigestRun, NotificationSetting
from notifications.services import send_sync_error_digest, update_setting
from syncengine.models import SyncError
from tests.factories import IntegrationFactory, UserFactory, make_error
from tests.support.mail import html_of, text_of
from tests.support.roles import ROLES, grant_role

pytestmark = pytest.mark.django_db
UTC = dt.UTC
PARIS = ZoneInfo("Europe/Paris")


def configure(user, **changes) -> NotificationSetting:
    setting = update_setting(user=user, changes=changes)
    # The settings existed long before the errors of the tests.
    NotificationSetting.objects.filter(pk=setting.pk).update(
        created_at=dt.datetime(2026, 1, 1, tzinfo=UTC)
    )
    return NotificationSetting.objects.get(pk=setting.pk)


def sent_digest(user, frequency: str, *, ending: dt.datetime, days: int) -> DigestRun:
    """A digest already sent to the user for the `days` up to `ending`."""
    return DigestRun.objects.create(
        user=user,
        frequency=frequency,
        window_start=ending - dt.timedelta(days=days),
        window_end=ending,
        status="sent",
    )


def test_daily_digest_has_counts_news_resolutions_top_errors_and_links(
    smtp, staff, integration, contacts
):
    # Given a daily digest at 08:00 Paris time, last sent yesterday at 08:00
    configure(staff, sync_errors_frequency="daily", time_zone="Europe/Paris", daily_hour=8)
    yesterday = dt.datetime(2027, 1, 14, 8, tzinfo=PARIS)
    sent_digest(staff, "daily", ending=yesterday, days=1)
    ada = create_record(
        object_type=contacts, properties={"firstname": "Ada", "email": "ada@x.com"}, source="user"
    )
    make_error(integration, first_seen=yesterday - dt.timedelta(hours=3), code="OLD_ONE")
    make_error(integration, first_seen=yesterday + dt.timedelta(hours=2), record=ada)
    make_error(
        integration,
        first_seen=yesterday + dt.timedelta(hours=5),
        category="picklists",
        code="INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        message="bad value for restricted picklist field: Industry",
    )
    make_error(
        integration,
        first_seen=yesterday - dt.timedelta(days=3),
        code="FIXED",
        status="resolved",
        resolved_at=yesterday + dt.timedelta(hours=1),
    )

    # When the digest runs at 08:05 Paris time
    run = send_sync_error_digest(
        user_id=staff.pk, frequency="daily", now=dt.datetime(2027, 1, 15, 8, 5, tzinfo=PARIS)
    )

    # Then one email holds what is new and resolved, per type, with absolute links
    assert run.status == "sent" and (run.new_count, run.resolved_count) == (2, 1)
    [mail] = smtp.messages
    assert mail["To"] == "ops@example.com"
    assert mail["Subject"] == "Sync errors: 2 new, 1 resolved (daily digest)"
    text, html = text_of(mail), html_of(mail)
    assert "== Salesforce production: 3 open, 2 new, 1 resolved" in text
    assert "- Property values: 2 open, 1 new, 1 resolved" in text
    assert "- Picklists: 1 open, 1 new, 0 resolved" in text
    assert "Thu 14 Jan 2027 08:00 to Fri 15 Jan 2027 08:00 CET (Europe/Paris)" in text
    health = f"https://crm.example.com/admin/syncengine/integration/{integration.pk}/health/"
    assert f"{health}?type=picklists" in text
    assert "Affected Contacts: https://crm.example.com/admin/crm/record/?type=contacts" in text
    assert f"Record: Ada https://crm.example.com/admin/crm/record/{ada.pk}/change/" in text
    assert text.index("[new]") < text.index("OLD_ONE")  # new errors lead the top list
    assert "FIXED" not in text.split("Top errors:")[1]
    assert "<strong>2 new</strong>" in html and f'href="{health}"' in html
    assert (
        mail["List-Unsubscribe"].strip().startswith("<https://crm.example.com/notifications/unsub")
    )


def test_daily_digest_waits_for_the_users_hour_in_their_time_zone(smtp, staff, integration):
    configure(staff, sync_errors_frequency="daily", time_zone="America/New_York", daily_hour=8)
    make_error(integration, first_seen=dt.datetime(2027, 1, 14, 20, tzinfo=UTC))

    # 08:30 UTC is 03:30 in New York: yesterday's 08:00 window already covers nothing new
    early = send_sync_error_digest(
        user_id=staff.pk, frequency="daily", now=dt.datetime(2027, 1, 15, 8, 30, tzinfo=UTC)
    )
    late = send_sync_error_digest(
        user_id=staff.pk, frequency="daily", now=dt.datetime(2027, 1, 15, 13, 5, tzinfo=UTC)
    )

    assert early.status == "empty" and early.window_end == dt.datetime(2027, 1, 14, 13, tzinfo=UTC)
    assert late.status == "sent" and late.window_end == dt.datetime(2027, 1, 15, 13, tzinfo=UTC)
    [mail] = smtp.messages
    assert "to Fri 15 Jan 2027 08:00 EST (America/New_York)" in text_of(mail)
    assert "last seen 14 Jan 15:00" in text_of(mail)  # 20:00 UTC shown in New York time


def test_weekly_digest_goes_out_on_the_users_day(smtp, staff, integration):
    configure(staff, sync_errors_frequency="weekly", weekly_day=2, daily_hour=9)  # Wednesday
    wednesday = dt.datetime(2027, 1, 13, 9, tzinfo=UTC)
    sent_digest(staff, "weekly", ending=wednesday, days=7)
    make_error(integration, first_seen=wednesday + dt.timedelta(days=1))

    tuesday = send_sync_error_digest(
        user_id=staff.pk, frequency="weekly", now=dt.datetime(2027, 1, 19, 23, tzinfo=UTC)
    )
    next_wednesday = send_sync_error_digest(
        user_id=staff.pk, frequency="weekly", now=dt.datetime(2027, 1, 20, 9, 1, tzinfo=UTC)
    )

    assert tuesday is None
    assert next_wednesday.window_start == wednesday
    [mail] = smtp.messages
    assert mail["Subject"] == "Sync errors: 1 new, 0 resolved (weekly digest)"


def test_instantly_batches_a_burst_into_one_email_per_interval(smtp, staff, integration, settings):
    settings.CONCORD_NOTIFY_INSTANT_MINUTES = 5
    configure(staff, sync_errors_frequency="instantly")
    t0 = dt.datetime(2027, 1, 15, 12, tzinfo=UTC)

    def send_at(seconds: int):
        return send_sync_error_digest(
            user_id=staff.pk, frequency="instantly", now=t0 + dt.timedelta(seconds=seconds)
        )

    make_error(integration, first_seen=t0, code="FIRST_A")
    make_error(integration, first_seen=t0 + dt.timedelta(seconds=10), code="FIRST_B")
    first = send_at(30)
    make_error(integration, first_seen=t0 + dt.timedelta(seconds=60), code="SECOND_C")
    held = [send_at(s) for s in (90, 120, 299)]
    make_error(integration, first_seen=t0 + dt.timedelta(seconds=200), code="SECOND_D")
    second = send_at(331)
    nothing_new = send_at(700)

    assert first.new_count == 2 and held == [None, None, None]
    assert second.new_count == 2 and nothing_new is None
    assert len(smtp.messages) == 2
    later = text_of(smtp.messages[1])
    # The message leads each line; the type and the code follow it
    assert "[new] Required fields are missing: [LastName] (Property values, SECOND_C)" in later
    assert "[new] Required fields are missing: [LastName] (Property values, FIRST_A)" not in later


def test_nothing_new_sends_nothing(smtp, staff, integration):
    configure(staff, sync_errors_frequency="daily")
    make_error(integration, first_seen=dt.datetime(2026, 6, 1, tzinfo=UTC))

    run = send_sync_error_digest(
        user_id=staff.pk, frequency="daily", now=dt.datetime(2027, 1, 15, 9, tzinfo=UTC)
    )

    assert run.status == "empty" and smtp.messages == []


def test_a_digest_task_run_twice_sends_once(smtp, staff, integration):
    configure(staff, sync_errors_frequency="instantly")
    make_error(integration, first_seen=timezone.now() - dt.timedelta(minutes=1))

    tasks.send_digest_task(user_id=staff.pk, frequency="instantly")
    tasks.send_digest_task(user_id=staff.pk, frequency="instantly")

    assert len(smtp.messages) == 1
    assert DigestRun.objects.filter(user=staff).count() == 1


def test_two_racing_runs_claim_the_window_once(smtp, staff, integration, monkeypatch):
    configure(staff, sync_errors_frequency="daily")
    make_error(integration, first_seen=dt.datetime(2027, 1, 15, 7, tzinfo=UTC))
    now = dt.datetime(2027, 1, 15, 9, tzinfo=UTC)
    send_sync_error_digest(user_id=staff.pk, frequency="daily", now=now)
    # The second run read the previous digest before the first one committed its claim.
    monkeypatch.setattr(selectors, "get_last_run", lambda **kwargs: None)

    again = send_sync_error_digest(user_id=staff.pk, frequency="daily", now=now)

    assert again is None and len(smtp.messages) == 1


def test_failed_send_releases_the_claim_for_the_retry(staff, integration, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens
    configure(staff, sync_errors_frequency="daily")
    make_error(integration, first_seen=dt.datetime(2027, 1, 15, 7, tzinfo=UTC))

    with pytest.raises(OSError):
        send_sync_error_digest(
            user_id=staff.pk, frequency="daily", now=dt.datetime(2027, 1, 15, 9, tzinfo=UTC)
        )

    assert not DigestRun.objects.exists()


def test_integrations_can_have_their_own_frequency(smtp, staff, integration):
    other = IntegrationFactory(name="Salesforce sandbox")
    configure(staff, sync_errors_frequency="daily")
    update_setting(
        user=staff, changes={}, integrations=[{"integration": other, "frequency": "instantly"}]
    )
    make_error(integration, first_seen=dt.datetime(2027, 1, 15, 7, tzinfo=UTC))
    make_error(other, first_seen=dt.datetime(2027, 1, 15, 7, tzinfo=UTC))

    send_sync_error_digest(
        user_id=staff.pk, frequency="daily", now=dt.datetime(2027, 1, 15, 9, tzinfo=UTC)
    )

    text = text_of(smtp.messages[0])
    assert "Salesforce production" in text and "Salesforce sandbox" not in text


def test_beat_fans_out_the_due_digests_in_batches(smtp, integration, monkeypatch):
    from tests.factories import UserFactory
    from tests.support.roles import ROLES, grant_role

    sent = []
    monkeypatch.setattr(
        tasks.send_digest_batch_task,
        "delay",
        lambda **kw: sent.append(kw) or tasks.send_digest_batch_task(**kw),
    )
    users = [grant_role(UserFactory(is_staff=True), ROLES.ADMIN) for _ in range(3)]
    for user in users[:2]:
        configure(user, sync_errors_frequency="instantly")
    configure(users[2], sync_errors_enabled=False)
    UserFactory(is_staff=False)  # not staff: no sync-error emails
    configure(UserFactory(is_staff=True), sync_errors_frequency="instantly")  # may not see them
    make_error(integration, first_seen=timezone.now() - dt.timedelta(minutes=1))

    assert tasks.send_due_digests_task() == 2
    assert tasks.send_due_digests_task() == 0  # the interval holds the next one

    assert [sorted(kw["user_ids"]) for kw in sent] == [[users[0].pk, users[1].pk]]
    assert sorted(m["To"] for m in smtp.messages) == sorted(u.email for u in users[:2])


def test_unsubscribe_link_turns_sync_error_emails_off(smtp, staff, integration):
    configure(staff, sync_errors_frequency="daily")
    update_setting(user=staff, changes={}, integrations=[{"integration": integration}])
    make_error(integration, first_seen=dt.datetime(2027, 1, 15, 7, tzinfo=UTC))
    send_sync_error_digest(
        user_id=staff.pk, frequency="daily", now=dt.datetime(2027, 1, 15, 9, tzinfo=UTC)
    )
    url = (
        smtp.messages[0]["List-Unsubscribe"]
        .strip()
        .strip("<>")
        .removeprefix("https://crm.example.com")
    )
    client = Client()  # no login

    page = client.get(url)
    assert page.status_code == 200 and NotificationSetting.objects.get().sync_errors_enabled
    done = client.post(url)
    forged = client.post(url[:-5] + "xxxx/")

    assert done.status_code == 200 and "unsubscribed" in done.content.decode()
    assert forged.status_code == 400
    setting = NotificationSetting.objects.get()
    assert not setting.sync_errors_enabled and not setting.integrations.get().enabled
    assert selectors.list_due_digests(now=dt.datetime(2027, 1, 20, tzinfo=UTC)) == []


def test_digest_builds_in_a_constant_number_of_queries(integration, django_assert_max_num_queries):
    start = dt.datetime(2027, 1, 1, tzinfo=UTC)
    for i in range(30):
        make_error(integration, first_seen=start + dt.timedelta(hours=i), category="other")

    with django_assert_max_num_queries(2):
        digest = selectors.build_digest(
            integrations=[integration],
            frequency="daily",
            window_start=start,
            window_end=start + dt.timedelta(days=1),
        )

    assert digest.new == 24 and len(digest.integrations[0].top_errors) == 5
    assert SyncError.objects.count() == 30


def test_recipients_of_one_window_share_its_aggregate_in_a_constant_number_of_queries(
    smtp, integration, django_assert_num_queries
):
    # Given three staff on the same daily digest, and errors new in yesterday's window
    users = [grant_role(UserFactory(is_staff=True), ROLES.ADMIN) for _ in range(3)]
    for user in users:
        configure(user, sync_errors_frequency="daily", daily_hour=8)
    end = dt.datetime(2027, 1, 15, 8, tzinfo=UTC)
    for i in range(4):
        make_error(integration, first_seen=end - dt.timedelta(hours=i + 1), code=f"C{i}")

    # When the first digest of the window is built, then the others
    with django_assert_num_queries(2):
        first = selectors.build_digest(
            integrations=[integration],
            frequency="daily",
            window_start=end - dt.timedelta(days=1),
            window_end=end,
        )
    with django_assert_num_queries(0):
        second = selectors.build_digest(
            integrations=[integration],
            frequency="daily",
            window_start=end - dt.timedelta(days=1),
            window_end=end,
        )

    # Then the later recipients read the first one's aggregate, and see the same digest
    assert first.new == second.new == 4
    assert [e.code for e in second.integrations[0].top_errors] == [
        e.code for e in first.integrations[0].top_errors
    ]
    assert second.integrations[0].integration == integration


def test_each_digest_sends_in_the_same_number_of_queries_whatever_the_errors_and_recipients(
    smtp, integration
):
    # Given five staff on the daily digest
    users = [grant_role(UserFactory(is_staff=True), ROLES.ADMIN) for _ in range(5)]
    for user in users:
        configure(user, sync_errors_frequency="daily", daily_hour=8)

    def queries_per_digest(now: dt.datetime, errors: int) -> list[int]:
        for i in range(errors):
            make_error(integration, first_seen=now - dt.timedelta(minutes=i + 1), code=f"E{i}")
        counts = []
        for user in users:
            with CaptureQueriesContext(connection) as queries:
                run = send_sync_error_digest(user_id=user.pk, frequency="daily", now=now)
            assert run.status == "sent"
            counts.append(len(queries.captured_queries))
        return counts

    # When one day's digests go out over 3 new errors, and the next day's over 60 more
    small = queries_per_digest(dt.datetime(2027, 1, 15, 8, tzinfo=UTC), 3)
    large = queries_per_digest(dt.datetime(2027, 1, 16, 8, tzinfo=UTC), 60)

    # Then each digest takes as many queries as its counterpart: the first recipient builds the
    # window's aggregate (two more queries), the others only read it
    assert small == large
    assert small[1:] == [small[0] - 2] * 4
    assert len(smtp.messages) == 10


def test_a_shared_aggregate_is_never_used_for_another_window_or_integration(integration):
    other = IntegrationFactory(name="Salesforce sandbox")
    end = dt.datetime(2027, 1, 15, 8, tzinfo=UTC)
    make_error(integration, first_seen=end - dt.timedelta(hours=1))
    make_error(other, first_seen=end - dt.timedelta(hours=30))

    def build(integrations, days_back: int):
        return selectors.build_digest(
            integrations=integrations,
            frequency="daily",
            window_start=end - dt.timedelta(days=days_back),
            window_end=end - dt.timedelta(days=days_back - 1),
        )

    today = build([integration], 1)
    both = build([integration, other], 1)
    yesterday = build([integration, other], 2)

    assert (today.new, both.new, yesterday.new) == (1, 1, 1)
    assert [i.integration for i in both.integrations] == [integration, other]
    assert [i.integration for i in yesterday.integrations] == [integration, other]
    assert yesterday.integrations[1].new == 1 and yesterday.integrations[0].new == 0


def test_digest_names_each_error_type_and_pluralises_its_counts(smtp, staff, integration):
    # Given one error seen once on one record, and one seen three times on none
    configure(staff, sync_errors_frequency="daily", daily_hour=8)
    end = dt.datetime(2027, 1, 15, 8, tzinfo=UTC)
    make_error(integration, first_seen=end - dt.timedelta(hours=1), code="ONCE", occurrences=1)
    make_error(
        integration,
        first_seen=end - dt.timedelta(hours=2),
        category="picklists",
        code="THRICE",
        occurrences=3,
    )

    send_sync_error_digest(user_id=staff.pk, frequency="daily", now=end)

    [mail] = smtp.messages
    text = text_of(mail)
    assert "- Picklists: 1 open, 1 new, 0 resolved" in text
    assert "1 occurrence, 0 affected records" in text
    assert "3 occurrences, 0 affected records" in text
    assert "== Salesforce production: 2 open, 2 new, 0 resolved" in text
