"""Notification writes: in-app notices, settings, unsubscribe, and claimed sync-error digests."""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core import signing
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection, transaction
from django.utils import timezone

from notifications import selectors
from notifications.digest_mail import DigestMailer
from notifications.models import (
    DigestRun,
    Frequency,
    IntegrationNotificationSetting,
    Notification,
    NotificationSetting,
    SyncHealthVisit,
)
from syncengine.models import Integration

logger = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "notifications.unsubscribe"
# Only these notices can be turned off; failures always reach the user.
OPT_OUT_FIELD = {
    Notification.Kind.BACKUP_READY: "backup_ready_enabled",
    Notification.Kind.RESTORE_DONE: "restore_done_enabled",
}


def notify(
    *, users: Iterable, kind: str, title: str, body: str = "", link: str = ""
) -> list[Notification]:
    """Send one in-app notification to each of the users (each once, however often listed)."""
    seen: set[int] = set()
    recipients = []
    for user in users:
        if user is None or user.pk in seen:
            continue
        seen.add(user.pk)
        recipients.append(user)
    opt_out = OPT_OUT_FIELD.get(kind)
    if opt_out and recipients:
        muted = set(
            NotificationSetting.objects.filter(user__in=seen, **{opt_out: False}).values_list(
                "user_id", flat=True
            )
        )
        recipients = [u for u in recipients if u.pk not in muted]
    rows = [
        Notification(user=u, kind=kind, title=title[:200], body=body, link=link) for u in recipients
    ]
    return Notification.objects.bulk_create(rows)


def mark_read(*, user, notification_ids: Iterable[int] | None = None) -> int:
    """Mark the user's notifications read (all unread ones without ids); returns how many."""
    queryset = Notification.objects.filter(user=user, read_at__isnull=True)
    if notification_ids is not None:
        queryset = queryset.filter(pk__in=list(notification_ids))
    return queryset.update(read_at=timezone.now())


def record_health_visit(*, user, integration: Integration, at: dt.datetime) -> None:
    """Remember that the user saw the integration's sync health page at `at`.

    One upsert, so the page costs the same queries on the first visit as on the next ones.
    """
    SyncHealthVisit.objects.bulk_create(
        [SyncHealthVisit(user=user, integration=integration, seen_at=at)],
        update_conflicts=True,
        unique_fields=["user", "integration"],
        update_fields=["seen_at"],
    )


def get_or_create_setting(*, user) -> NotificationSetting:
    """The user's settings row, created with the defaults on first use."""
    setting, _ = NotificationSetting.objects.get_or_create(user=user)
    return setting


@transaction.atomic
def update_setting(
    *, user, changes: dict, integrations: list[dict] | None = None
) -> NotificationSetting:
    """Change the user's settings; `integrations` (when given) replaces the per-integration list.

    The input is validated by the caller (serializer or form) before anything is written.
    """
    setting, _ = NotificationSetting.objects.select_for_update().get_or_create(user=user)
    for name, value in changes.items():
        setattr(setting, name, value)
    setting.save()
    if integrations is not None:
        setting.integrations.all().delete()
        IntegrationNotificationSetting.objects.bulk_create(
            IntegrationNotificationSetting(
                setting=setting,
                integration=item["integration"],
                enabled=item.get("enabled", True),
                frequency=item.get("frequency", Frequency.DAILY),
            )
            for item in integrations
        )
    return selectors.get_setting(user=user)


def unsubscribe_token(*, user) -> str:
    """A signed token that turns off the user's sync-error emails, no login needed."""
    return signing.dumps(user.pk, salt=UNSUBSCRIBE_SALT)


@transaction.atomic
def unsubscribe(*, token: str) -> NotificationSetting | None:
    """Turn off the sync-error emails of the token's user; None for a bad token."""
    try:
        user_id = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        return None
    setting, _ = NotificationSetting.objects.select_for_update().get_or_create(user=user)
    setting.sync_errors_enabled = False
    setting.save(update_fields=["sync_errors_enabled", "updated_at"])
    setting.integrations.update(enabled=False)
    return setting


def send_sync_error_digest(*, user_id: int, frequency: str, now: dt.datetime) -> DigestRun | None:
    """Claim, build and email the user's digest of this frequency if due; None when not due."""
    runs = send_sync_error_digests(user_ids=[user_id], frequency=frequency, now=now)
    return runs[0] if runs else None


@dataclass
class _Due:
    user: object
    setting: NotificationSetting
    integrations: list[Integration]
    window_start: dt.datetime
    window_end: dt.datetime


def send_sync_error_digests(
    *, user_ids: list[int], frequency: str, now: dt.datetime
) -> list[DigestRun]:
    """Build, claim and email the digests of this frequency due to these users.

    Returns the runs claimed (sent, empty or refused); a user whose digest is not due, or who
    may not see sync errors, gets none. The work that does not depend on the recipient is done
    once for the batch: a window's aggregates are read once, an integration's part of the email
    is rendered once per window and time zone, and every email goes over one SMTP connection.
    The reads are a constant few for the whole batch and the claims one statement; the only
    query per digest is the update that records it sent (or refused) as soon as it is, so
    that a worker killed mid-batch never sends it twice. None is per error.
    """
    dues = _due_digests(user_ids=user_ids, frequency=frequency, now=now)
    shared: dict[tuple[dt.datetime, dt.datetime], dict] = {}
    for due in dues:
        window = (due.window_start, due.window_end)
        shared.setdefault(window, {}).update(dict.fromkeys(i.pk for i in due.integrations))
    for (start, end), ids in shared.items():
        shared[start, end] = selectors.window_aggregates(
            integration_ids=list(ids), window_start=start, window_end=end
        )
    digests = [
        selectors.assemble_digest(
            integrations=due.integrations,
            frequency=frequency,
            window_start=due.window_start,
            window_end=due.window_end,
            shared=shared[due.window_start, due.window_end],
        )
        for due in dues
    ]
    if frequency == Frequency.INSTANTLY:
        # Nothing new: keep the window open for the next error.
        kept = [(due, digest) for due, digest in zip(dues, digests, strict=True) if digest.new]
    else:
        kept = list(zip(dues, digests, strict=True))
    # Every message is built before anything is claimed: a failure here leaves no claim behind.
    mailer = DigestMailer()
    messages = [
        mailer.message(
            user=due.user,
            setting=due.setting,
            digest=digest,
            token=unsubscribe_token(user=due.user),
        )
        if digest.new or digest.resolved
        else None
        for due, digest in kept
    ]
    runs = _claim_all(frequency=frequency, dues=kept, stale_before=selectors.stale_claim_cutoff())
    outgoing = [
        (run, message)
        for run, message in zip(runs, messages, strict=True)
        if run is not None and run.status == DigestRun.Status.CLAIMED
    ]
    _send_all(outgoing)
    return [run for run in runs if run is not None]


def _due_digests(*, user_ids: list[int], frequency: str, now: dt.datetime) -> list[_Due]:
    """The users' digests of this frequency that are due now, with their windows."""
    recipients = selectors.list_digest_recipients(user_ids=user_ids)
    if not recipients:
        return []
    integrations = list(Integration.objects.order_by("name", "pk"))
    last_ends = selectors.last_digest_ends(user_ids=[u.pk for u in recipients], frequency=frequency)
    dues = []
    for user in recipients:
        setting = getattr(user, "notification_setting", None) or NotificationSetting(user=user)
        frequencies = selectors.integration_frequencies(setting, [i.pk for i in integrations])
        mine = [i for i in integrations if frequencies[i.pk] == frequency]
        if not mine:
            continue
        window_end = selectors.scheduled_window_end(setting, frequency, now)
        last_end = last_ends.get(user.pk)
        if last_end is not None:
            if last_end >= window_end:
                continue  # this digest went out already
            if frequency == Frequency.INSTANTLY and last_end > now - selectors.instant_interval():
                continue  # hold the burst: at most one email per interval
            window_start = last_end
        else:
            if setting.pk is None:
                setting = get_or_create_setting(user=user)
            window_start = selectors.first_window_start(setting, frequency, window_end)
        dues.append(_Due(user, setting, mine, window_start, window_end))
    return dues


def _claim_all(
    *, frequency: str, dues: list[tuple[_Due, selectors.Digest]], stale_before: dt.datetime
) -> list[DigestRun | None]:
    """Claim each digest's window (None where another run holds it), in one statement.

    The claim is the row itself (unique per user, frequency and window start): a run that
    finds the row there already does not send, unless the row is a claim made before
    `stale_before`, left by a worker that died mid-batch, which is taken over. An empty digest
    is recorded as such, so the next window starts after it.
    """
    if not dues:
        return []
    at = timezone.now()
    rows = [
        DigestRun(
            user_id=due.user.pk,
            frequency=frequency,
            window_start=due.window_start,
            window_end=due.window_end,
            status=(
                DigestRun.Status.CLAIMED
                if digest.new or digest.resolved
                else DigestRun.Status.EMPTY
            ),
            new_count=digest.new,
            resolved_count=digest.resolved,
            created_at=at,
        )
        for due, digest in dues
    ]
    columns = [
        "user_id",
        "frequency",
        "window_start",
        "window_end",
        "status",
        "new_count",
        "resolved_count",
        "created_at",
        "failure",
    ]
    fields = [DigestRun._meta.get_field(c.removesuffix("_id")) for c in columns]
    qn = connection.ops.quote_name
    values = ", ".join(f"({', '.join(['%s'] * len(columns))})" for _ in rows)
    params = [
        f.get_db_prep_save(getattr(row, f.attname), connection) for row in rows for f in fields
    ]
    table = qn(DigestRun._meta.db_table)
    # A taken-over claim gets this run's window end, counts and stamp, as a new row would.
    retaken = [c for c in columns if c not in ("user_id", "frequency", "window_start")]
    sql = (
        f"INSERT INTO {table} ({', '.join(qn(c) for c in columns)}) VALUES {values} "
        f"ON CONFLICT ({qn('user_id')}, {qn('frequency')}, {qn('window_start')}) DO UPDATE SET "
        f"{', '.join(f'{qn(c)} = EXCLUDED.{qn(c)}' for c in retaken)} "
        f"WHERE {table}.{qn('status')} = %s AND {table}.{qn('created_at')} < %s "
        f"RETURNING {qn('id')}, {qn('user_id')}"
    )
    params += [
        DigestRun.Status.CLAIMED.value,
        DigestRun._meta.get_field("created_at").get_db_prep_save(stale_before, connection),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        claimed = dict((user_id, pk) for pk, user_id in cursor.fetchall())
    for row in rows:
        row.pk = claimed.get(row.user_id)
        row._state.adding = False
    return [row if row.pk is not None else None for row in rows]


# The server refused this message (its recipient, its sender or its content) and said so;
# the connection is still good for the next one. Anything else is the connection's failure.
REFUSED = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError)
# "Service not available, closing channel": smtplib raises it as a refusal of the message, but
# the server has hung up, so it fails the connection, not the recipient.
SERVER_CLOSING = 421


def _refusal(error: Exception) -> str | None:
    """The server's reason when `error` refuses one message only; None for a connection error."""
    if not isinstance(error, REFUSED):
        return None
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        replies = list(error.recipients.values())
    else:
        replies = [(error.smtp_code, error.smtp_error)]
    if any(code == SERVER_CLOSING for code, _ in replies):
        return None
    return "; ".join(
        f"{code} {reply.decode(errors='replace') if isinstance(reply, bytes) else reply}"
        for code, reply in replies
    )


def _send_all(outgoing: list[tuple[DigestRun, EmailMultiAlternatives]]) -> None:
    """Send the claimed digests over one connection, marking each sent as soon as it is.

    A message the server refuses (a bad address, say) is marked failed with the server's
    reason and the batch goes on: retrying it would only be refused again. Any other error
    (the connection failing, above all) releases the claims not yet sent and is raised, so
    that the task's retry sends exactly those.
    """
    if not outgoing:
        return
    done: set[int] = set()
    try:
        with _unflushed_commits(), get_connection() as smtp:
            for run, message in outgoing:
                try:
                    smtp.send_messages([message])
                except REFUSED as error:
                    reason = _refusal(error)
                    if reason is None:
                        raise
                    done.add(run.pk)
                    _mark_failed(run, reason)
                    continue
                done.add(run.pk)
                _mark_sent(run)
    except BaseException:
        # BaseException: a worker's time limit or shutdown must not leave claims behind either.
        unsent = [run.pk for run, _ in outgoing if run.pk not in done]
        DigestRun.objects.filter(pk__in=unsent, status=DigestRun.Status.CLAIMED).delete()
        raise


@contextmanager
def _unflushed_commits():
    """On PostgreSQL, let each run's mark commit without waiting for the disk.

    A commit that waits for its WAL flush costs more than the mail it records; the mark is
    still seen at once by every other worker (what stops a second send), and only a crash of
    the database itself could lose the last few, whose digests would then go out again.
    """
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO off")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


def _mark_sent(run: DigestRun) -> None:
    """Record the run sent (one update: a worker killed later does not send it again)."""
    run.status, run.sent_at = DigestRun.Status.SENT, timezone.now()
    DigestRun.objects.filter(pk=run.pk).update(status=run.status, sent_at=run.sent_at)


def _mark_failed(run: DigestRun, reason: str) -> None:
    """Record the run refused; its window is closed, so the next digest starts after it."""
    logger.warning(
        "Sync-error digest %s of user %s refused by the mail server: %s",
        run.pk,
        run.user_id,
        reason,
    )
    run.status, run.failure = DigestRun.Status.FAILED, reason
    DigestRun.objects.filter(pk=run.pk).update(status=run.status, failure=reason)
