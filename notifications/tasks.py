"""Sync-error digests: a beat task fans out one task per batch of due digests."""

from __future__ import annotations

import smtplib
from collections import defaultdict

from celery import shared_task
from django.utils import timezone

from notifications.selectors import list_due_digests
from notifications.services import send_sync_error_digest, send_sync_error_digests

# Digests per task: the batch shares its windows' aggregates, rendered parts and SMTP
# connection; small enough that a retry resends little and workers share a fan-out.
DIGEST_BATCH = 200


@shared_task(name="notifications.send_due_digests")
def send_due_digests_task() -> int:
    """Queue the digests due now, a batch of users of one frequency per task."""
    due = list_due_digests(now=timezone.now())
    by_frequency: dict[str, list[int]] = defaultdict(list)
    for user_id, frequency in due:
        by_frequency[frequency].append(user_id)
    for frequency, user_ids in by_frequency.items():
        for i in range(0, len(user_ids), DIGEST_BATCH):
            send_digest_batch_task.delay(
                user_ids=user_ids[i : i + DIGEST_BATCH], frequency=frequency
            )
    return len(due)


_RETRIED = {
    "acks_late": True,
    "autoretry_for": (smtplib.SMTPException, OSError),
    "retry_backoff": 60,
    "retry_jitter": True,
    "max_retries": 5,
}


@shared_task(name="notifications.send_digest_batch", **_RETRIED)
def send_digest_batch_task(*, user_ids: list[int], frequency: str) -> int:
    """Send these users' digests; each is claimed, so a retry sends only those not yet sent."""
    runs = send_sync_error_digests(user_ids=user_ids, frequency=frequency, now=timezone.now())
    return len(runs)


@shared_task(name="notifications.send_digest", **_RETRIED)
def send_digest_task(*, user_id: int, frequency: str) -> None:
    """Send one user's digest (tasks queued before batches existed still arrive here)."""
    send_sync_error_digest(user_id=user_id, frequency=frequency, now=timezone.now())
