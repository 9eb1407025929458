"""Notification writes: in-app notices, settings, unsubscribe, and claimed sync-error digests."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from notifications import selectors
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
    user = (
        get_user_model()
        .objects.filter(pk=user_id, is_active=True)
        .select_related("notification_setting")
        .first()
    )
    if user is None or not user.email:
        return None
    setting = selectors.get_setting(user=user)
    integrations = list(Integration.objects.order_by("name", "pk"))
    frequencies = selectors.integration_frequencies(setting, [i.pk for i in integrations])
    mine = [i for i in integrations if frequencies[i.pk] == frequency]
    if not mine:
        return None
    window_end = selectors.scheduled_window_end(setting, frequency, now)
    last = selectors.get_last_run(user_id=user.pk, frequency=frequency)
    if last is not None:
        if last.window_end >= window_end:
            return None  # this digest went out already
        if (
            frequency == Frequency.INSTANTLY
            and last.window_end > now - selectors.instant_interval()
        ):
            return None  # hold the burst: at most one email per interval
        window_start = last.window_end
    else:
        if setting.pk is None:
            setting = get_or_create_setting(user=user)
        window_start = selectors.first_window_start(setting, frequency, window_end)
    digest = selectors.build_digest(
        integrations=mine, frequency=frequency, window_start=window_start, window_end=window_end
    )
    if frequency == Frequency.INSTANTLY and not digest.new:
        return None  # nothing new: keep the window open for the next error
    run = _claim(user=user, frequency=frequency, start=window_start, end=window_end, digest=digest)
    if run is None or run.status == DigestRun.Status.EMPTY:
        return run
    try:
        _send(user=user, setting=setting, digest=digest)
    except Exception:
        # Release the claim so that the task's retry sends it.
        DigestRun.objects.filter(pk=run.pk, status=DigestRun.Status.CLAIMED).delete()
        raise
    DigestRun.objects.filter(pk=run.pk).update(status=DigestRun.Status.SENT, sent_at=timezone.now())
    run.status = DigestRun.Status.SENT
    return run


def _claim(*, user, frequency: str, start, end, digest) -> DigestRun | None:
    empty = not digest.new and not digest.resolved
    try:
        with transaction.atomic():
            return DigestRun.objects.create(
                user=user,
                frequency=frequency,
                window_start=start,
                window_end=end,
                status=DigestRun.Status.EMPTY if empty else DigestRun.Status.CLAIMED,
                new_count=digest.new,
                resolved_count=digest.resolved,
            )
    except IntegrityError:
        return None  # another run of the task holds this window


def _send(*, user, setting: NotificationSetting, digest) -> None:
    token = unsubscribe_token(user=user)
    unsubscribe_url = selectors.absolute(f"/notifications/unsubscribe/{token}/")
    context = {
        "user": user,
        "digest": digest,
        "time_zone": setting.time_zone,
        "unsubscribe_url": unsubscribe_url,
        "base_url": selectors.absolute(""),
        "settings_url": selectors.absolute("/admin/notifications/notificationsetting/"),
    }
    with timezone.override(setting.time_zone):
        text = render_to_string("notifications/email/sync_errors.txt", context)
        html = render_to_string("notifications/email/sync_errors.html", context)
    label = dict(Frequency.choices)[digest.frequency]
    subject = f"Sync errors: {digest.new} new, {digest.resolved} resolved ({label.lower()} digest)"
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=django_settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
        headers={
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    message.attach_alternative(html, "text/html")
    message.send()
