"""Digests sent in batches: the same mail as one whole template rendered per user, only for
users who may see sync errors, over one SMTP connection and in a constant number of queries."""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from pathlib import Path

import pytest
from django.core import mail as django_mail
from django.db import connection
from django.template import engines
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.services.records import create_record
from notifications import selectors, services, tasks
from notifications.digest_mail import DigestMailer
from notifications.models import DigestRun, NotificationSetting
from notifications.services import send_sync_error_digests, update_setting
from tests.factories import IntegrationFactory, UserFactory, make_error
from tests.support.mail import html_of, text_of
from tests.support.roles import ROLES, grant_role

pytestmark = pytest.mark.django_db
UTC = dt.UTC
END = dt.datetime(2027, 1, 15, 8, tzinfo=UTC)
# The digest templates as they were before the shared parts were split out: the mail each
# user gets must be exactly what these made for them.
REFERENCE = Path(__file__).parent / "reference"


def configure(user, *, integrations=None, **changes) -> NotificationSetting:
    update_setting(user=user, changes=changes, integrations=integrations)
    NotificationSetting.objects.filter(user=user).update(
        created_at=dt.datetime(2026, 1, 1, tzinfo=UTC)
    )
    return NotificationSetting.objects.get(user=user)


def reference_mail(user, run: DigestRun, unsubscribe_url: str) -> tuple[str, str]:
    """The text and HTML the whole templates make for the user's digest of the run's window."""
    setting = selectors.get_setting(user=user)
    followed = selectors.integration_frequencies(
        setting, [i.pk for i in IntegrationFactory._meta.model.objects.all()]
    )
    integrations = [
        i
        for i in IntegrationFactory._meta.model.objects.order_by("name", "pk")
        if followed[i.pk] == run.frequency
    ]
    digest = selectors.build_digest(
        integrations=integrations,
        frequency=run.frequency,
        window_start=run.window_start,
        window_end=run.window_end,
    )
    context = {
        "user": user,
        "digest": digest,
        "time_zone": setting.time_zone,
        "unsubscribe_url": unsubscribe_url,
        "base_url": selectors.absolute(""),
        "settings_url": selectors.absolute("/admin/notifications/notificationsetting/"),
    }
    engine = engines["django"]
    with timezone.override(setting.time_zone):
        return tuple(
            engine.from_string((REFERENCE / name).read_text()).render(context)
            for name in ("sync_errors.txt", "sync_errors.html")
        )


def crlf(body: str) -> str:
    """The body as it crosses SMTP (CRLF line ends)."""
    return body.replace("\n", "\r\n")


@pytest.fixture
def errors(integration, contacts):
    """New, old and resolved errors of two integrations, one on a named record."""
    other = IntegrationFactory(name="Salesforce sandbox")
    ada = create_record(
        object_type=contacts, properties={"firstname": "Ada", "email": "a@x.com"}, source="user"
    )
    make_error(integration, first_seen=END - dt.timedelta(hours=2), record=ada, code="NEW_ADA")
    make_error(
        integration,
        first_seen=END - dt.timedelta(hours=5),
        category="picklists",
        code="BAD_PICK",
        message='bad value <b>"Tech & Co"</b> for Industry',
        occurrences=3,
    )
    make_error(integration, first_seen=END - dt.timedelta(days=3), code="OLD_ONE")
    make_error(
        integration,
        first_seen=END - dt.timedelta(days=3),
        code="FIXED",
        status="resolved",
        resolved_at=END - dt.timedelta(hours=1),
    )
    make_error(other, first_seen=END - dt.timedelta(hours=20), code="SANDBOX_NEW")
    return other


def test_each_user_gets_the_mail_the_whole_template_made_in_their_own_time_zone(
    smtp, integration, errors
):
    # Given admins in three time zones (one following only the sandbox), and two staff who may
    # not see sync errors: one in the "User" role, one with no role at all
    paris, new_york, tokyo = (
        grant_role(UserFactory(is_staff=True, email=f"{n}@example.com"), ROLES.ADMIN)
        for n in ("paris", "ny", "tokyo")
    )
    configure(paris, sync_errors_frequency="daily", time_zone="Europe/Paris", daily_hour=9)
    configure(new_york, sync_errors_frequency="daily", time_zone="America/New_York", daily_hour=3)
    configure(
        tokyo,
        sync_errors_frequency="daily",
        time_zone="Asia/Tokyo",
        daily_hour=17,
        integrations=[{"integration": integration, "enabled": False}],
    )
    role_user = grant_role(UserFactory(is_staff=True), ROLES.USER)
    no_role = UserFactory(is_staff=True)
    for user in (role_user, no_role):
        configure(user, sync_errors_frequency="daily")
    assert not role_user.has_perm("syncengine.view_syncerror")

    # When one batch sends the daily digests due at 08:00 UTC
    users = [paris, new_york, tokyo, role_user, no_role]
    runs = send_sync_error_digests(user_ids=[u.pk for u in users], frequency="daily", now=END)

    # Then the three admins get theirs, the others none, and each mail is what the whole
    # templates made for that user: their window and last-seen times in their own zone
    assert sorted(r.user_id for r in runs) == sorted(u.pk for u in (paris, new_york, tokyo))
    assert not DigestRun.objects.filter(user__in=[role_user, no_role]).exists()
    mails = {m["To"]: m for m in smtp.messages}
    assert set(mails) == {"paris@example.com", "ny@example.com", "tokyo@example.com"}
    run_of = {run.user_id: run for run in runs}
    for user in (paris, new_york, tokyo):
        run, mail = run_of[user.pk], mails[user.email]
        unsubscribe_url = mail["List-Unsubscribe"].strip().strip("<>")
        text, html = reference_mail(user, run, unsubscribe_url)
        assert crlf(text) == text_of(mail) and crlf(html) == html_of(mail)
    assert "last seen 15 Jan 07:00" in text_of(mails["paris@example.com"])
    assert "last seen 15 Jan 01:00" in text_of(mails["ny@example.com"])
    tokyo_text = text_of(mails["tokyo@example.com"])
    assert "SANDBOX_NEW" in tokyo_text and "NEW_ADA" not in tokyo_text
    assert "&lt;b&gt;&quot;Tech &amp; Co&quot;&lt;/b&gt;" in html_of(mails["paris@example.com"])


def test_a_staff_member_who_lost_the_permission_gets_no_digest(smtp, staff, integration):
    # Given a staff member due a digest, whose role is taken away before it is sent
    configure(staff, sync_errors_frequency="daily", daily_hour=8)
    make_error(integration, first_seen=END - dt.timedelta(hours=1))
    staff.groups.clear()

    runs = send_sync_error_digests(user_ids=[staff.pk], frequency="daily", now=END)

    assert runs == [] and smtp.messages == [] and not DigestRun.objects.exists()


def admins(n: int) -> list:
    users = [grant_role(UserFactory(is_staff=True), ROLES.ADMIN) for _ in range(n)]
    for user in users:
        configure(user, sync_errors_frequency="daily", daily_hour=8)
    return users


def test_a_batch_goes_over_one_smtp_connection(smtp, integration, monkeypatch):
    users = admins(4)
    make_error(integration, first_seen=END - dt.timedelta(hours=1))
    opened = []
    real = services.get_connection
    monkeypatch.setattr(services, "get_connection", lambda: opened.append(1) or real())

    runs = send_sync_error_digests(user_ids=[u.pk for u in users], frequency="daily", now=END)

    assert len(opened) == 1 and len(smtp.messages) == 4
    assert {r.status for r in runs} == {"sent"}
    assert DigestRun.objects.filter(status="sent", sent_at__isnull=False).count() == 4


def test_a_batch_takes_the_same_queries_whatever_its_recipients_and_errors(integration):
    # Given two batches of daily recipients, the second twice the first, with more errors
    small, large = admins(3), admins(6)

    def queries(users, now: dt.datetime, errors: int) -> int:
        for i in range(errors):
            make_error(integration, first_seen=now - dt.timedelta(minutes=i + 1), code=f"E{i}")
        with CaptureQueriesContext(connection) as captured:
            runs = send_sync_error_digests(
                user_ids=[u.pk for u in users], frequency="daily", now=now
            )
        assert [r.status for r in runs] == ["sent"] * len(users)
        return len(captured.captured_queries)

    # When each sends its digests (the window's aggregate is built by each: a new window)
    three = queries(small, END, 3)
    six = queries(large, END + dt.timedelta(days=1), 40)

    # Then the batch reads users, their settings, integrations and last runs once, builds the
    # window's aggregate in two, claims every digest in one statement and, on PostgreSQL, turns
    # the wait for the disk off and on around the sends: nothing depends on the number of
    # recipients or errors but the one update that records each mail sent as soon as it is
    # (so that a worker killed mid-batch does not send it again)
    around_sends = 2 if connection.vendor == "postgresql" else 0
    assert (three - 3, six - 6) == (7 + around_sends,) * 2
    assert len(django_mail.outbox) == 9


def test_a_failed_send_marks_the_sent_ones_and_releases_the_others(smtp, integration, monkeypatch):
    from django.core.mail.backends.smtp import EmailBackend

    users = admins(3)
    make_error(integration, first_seen=END - dt.timedelta(hours=1))
    real_send = EmailBackend.send_messages
    calls = []

    def send_then_fail(self, messages):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("connection reset")
        return real_send(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", send_then_fail)

    with pytest.raises(OSError):
        send_sync_error_digests(user_ids=[u.pk for u in users], frequency="daily", now=END)
    monkeypatch.setattr(EmailBackend, "send_messages", real_send)
    retried = send_sync_error_digests(user_ids=[u.pk for u in users], frequency="daily", now=END)

    # The first was sent once, the two others by the retry
    assert len(smtp.messages) == 3 and len({m["To"] for m in smtp.messages}) == 3
    assert len(retried) == 2
    assert DigestRun.objects.filter(status="sent").count() == 3


def test_the_beat_queues_batches_of_one_frequency(integration, monkeypatch):
    monkeypatch.setattr(tasks, "DIGEST_BATCH", 2)
    queued = []
    monkeypatch.setattr(tasks.send_digest_batch_task, "delay", lambda **kw: queued.append(kw))
    users = admins(3)
    other = grant_role(UserFactory(is_staff=True), ROLES.ADMIN)
    configure(other, sync_errors_frequency="weekly")
    make_error(integration, first_seen=timezone.now() - dt.timedelta(minutes=1))

    assert tasks.send_due_digests_task() == 4

    ids = sorted(u.pk for u in users)
    assert sorted(queued, key=lambda kw: (kw["frequency"], kw["user_ids"])) == [
        {"user_ids": ids[:2], "frequency": "daily"},
        {"user_ids": ids[2:], "frequency": "daily"},
        {"user_ids": [other.pk], "frequency": "weekly"},
    ]


def test_a_refused_address_fails_its_digest_only_and_the_batch_goes_on(smtp, integration, caplog):
    # Given a batch whose first recipient the mail server refuses
    users = admins(3)
    bad = users[0]
    smtp.refused[bad.email] = "550 5.1.1 No such user"
    make_error(integration, first_seen=END - dt.timedelta(hours=1))

    # When the batch is sent
    with caplog.at_level(logging.WARNING, logger="notifications.services"):
        runs = send_sync_error_digests(user_ids=[u.pk for u in users], frequency="daily", now=END)

    # Then the others get theirs, and the refused one is recorded failed with the reason
    assert sorted(m["To"] for m in smtp.messages) == sorted(u.email for u in users[1:])
    status = {r.user_id: r.status for r in runs}
    assert status == {bad.pk: "failed", users[1].pk: "sent", users[2].pk: "sent"}
    failed = DigestRun.objects.get(user=bad)
    assert failed.status == "failed" and failed.failure.startswith("550 5.1.1 No such user")
    assert f"user {bad.pk} refused by the mail server: 550" in caplog.text
    # And it is not tried again in this window: its next digest is the next window's
    assert send_sync_error_digests(user_ids=[bad.pk], frequency="daily", now=END) == []
    later = END + dt.timedelta(days=1)
    make_error(integration, first_seen=later - dt.timedelta(hours=1), code="LATER")
    (retried,) = send_sync_error_digests(user_ids=[bad.pk], frequency="daily", now=later)
    assert retried.window_start == END and retried.status == "failed"


def test_a_server_closing_the_connection_releases_the_rest_for_the_retry(smtp, integration):
    # Given a server that hangs up (421) on the second recipient of a batch
    users = admins(3)
    smtp.refused[users[1].email] = "421 4.3.2 Service shutting down, closing channel"
    make_error(integration, first_seen=END - dt.timedelta(hours=1))

    # When the batch is sent, it fails as a whole from there, for the task to retry
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send_sync_error_digests(user_ids=[u.pk for u in users], frequency="daily", now=END)

    # Then the first is sent and the others are released, not failed
    assert [m["To"] for m in smtp.messages] == [users[0].email]
    assert list(DigestRun.objects.values_list("user_id", "status")) == [(users[0].pk, "sent")]


def test_a_failure_building_the_mails_leaves_no_claim_behind(smtp, integration, monkeypatch):
    users = admins(3)
    make_error(integration, first_seen=END - dt.timedelta(hours=1))
    real = DigestMailer.message
    built = []

    def fail_second(self, **kwargs):
        built.append(1)
        if len(built) == 2:
            raise ValueError("broken template")
        return real(self, **kwargs)

    monkeypatch.setattr(DigestMailer, "message", fail_second)
    with pytest.raises(ValueError):
        send_sync_error_digests(user_ids=[u.pk for u in users], frequency="daily", now=END)
    assert not DigestRun.objects.exists()

    # So the next try sends every digest
    monkeypatch.setattr(DigestMailer, "message", real)
    runs = send_sync_error_digests(user_ids=[u.pk for u in users], frequency="daily", now=END)
    assert [r.status for r in runs] == ["sent"] * 3 and len(smtp.messages) == 3


def test_each_digest_is_recorded_sent_as_soon_as_it_goes_out(smtp, integration, monkeypatch):
    from django.core.mail.backends.smtp import EmailBackend

    users = admins(3)
    make_error(integration, first_seen=END - dt.timedelta(hours=1))
    real_send = EmailBackend.send_messages
    seen = []

    def record_then_send(self, messages):
        seen.append(sorted(DigestRun.objects.values_list("status", flat=True)))
        return real_send(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", record_then_send)
    send_sync_error_digests(user_ids=[u.pk for u in users], frequency="daily", now=END)

    # Before each send, those before it are already recorded sent
    assert seen == [
        ["claimed", "claimed", "claimed"],
        ["claimed", "claimed", "sent"],
        ["claimed", "sent", "sent"],
    ]


def test_a_claim_abandoned_by_a_killed_worker_is_taken_over_later(smtp, integration):
    # Given two digests claimed by a worker that was killed before sending them: one claimed
    # 20 minutes ago, one a minute ago (perhaps still being sent)
    stale_user, fresh_user = admins(2)
    make_error(integration, first_seen=END - dt.timedelta(hours=1))
    ids = [stale_user.pk, fresh_user.pk]
    send_sync_error_digests(user_ids=ids, frequency="daily", now=END)
    smtp.messages.clear()
    for user, age in ((stale_user, 20), (fresh_user, 1)):
        DigestRun.objects.filter(user=user).update(
            status="claimed", sent_at=None, created_at=timezone.now() - dt.timedelta(minutes=age)
        )

    # Then the stale one is due again, and sent; the fresh one is left to its worker
    assert selectors.list_due_digests(now=END) == [(stale_user.pk, "daily")]
    runs = send_sync_error_digests(user_ids=ids, frequency="daily", now=END)

    assert [(r.user_id, r.status) for r in runs] == [(stale_user.pk, "sent")]
    assert [m["To"] for m in smtp.messages] == [stale_user.email]
    taken = DigestRun.objects.get(user=stale_user)
    assert taken.status == "sent" and taken.created_at > timezone.now() - dt.timedelta(minutes=1)
    assert DigestRun.objects.get(user=fresh_user).status == "claimed"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL setting")
def test_the_sent_marks_do_not_wait_for_the_disk_and_the_setting_is_restored(
    smtp, integration, monkeypatch
):
    from django.core.mail.backends.smtp import EmailBackend

    users = admins(2)
    make_error(integration, first_seen=END - dt.timedelta(hours=1))
    real_send = EmailBackend.send_messages
    during = []

    def show(cursor_owner=connection) -> str:
        with cursor_owner.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            return cursor.fetchone()[0]

    def record_then_send(self, messages):
        during.append(show())
        return real_send(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", record_then_send)
    before = show()
    send_sync_error_digests(user_ids=[u.pk for u in users], frequency="daily", now=END)

    assert during == ["off", "off"] and show() == before == "on"
