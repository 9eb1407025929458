"""Sync-error digests: a beat task fans out one task per due digest."""

from __future__ import annotations

import smtplib

from celery import shared_task
from django.utils import timezone

from notifications.selectors import list_due_digests
from notifications.services import send_sync_error_digest


@shared_task(name="notifications.send_due_digests")
def send_due_digests_task() -> int:
    """Queue one digest task per user and frequency that is due now."""
    due = list_due_digests(now=timezone.now())
    for user_id, frequency in due:
        send_digest_task.delay(user_id=user_id, frequency=frequency)
    return len(due)


@shared_task(
    name="notifications.send_digest",
    acks_late=True,
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=60,
    retry_jitter=True,
    max_retries=5,
)
def send_digest_task(*, user_id: int, frequency: str) -> None:
    """Send one user's digest; the service claims it, so a second delivery does nothing."""
    send_sync_error_digest(user_id=user_id, frequency=frequency, now=timezone.now())
