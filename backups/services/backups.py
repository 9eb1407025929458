"""Backup writes: request one (within the plan's limit), run it, expire old files, schedule."""

from __future__ import annotations

import datetime as dt
import logging
import tempfile

from django.conf import settings
from django.core.files import File
from django.core.files.storage import storages
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.selectors import list_users_with_permission
from backups.errors import BackupError, BackupTooSoon, BackupUnavailable
from backups.models import BACKUP_RETENTION_DAYS, Backup, BackupSchedule
from backups.services.writer import write_backup_zip
from crm import sources
from crm.audit import record_audit
from notifications.models import Notification
from notifications.services import notify

logger = logging.getLogger(__name__)

STORAGE_ALIAS = "backups"
PLAN_LABELS = {"starter": "Starter", "professional": "Professional", "enterprise": "Enterprise"}
# B-2: Starter and Professional may back up once a week, Enterprise once a day.
PLAN_INTERVALS = {
    "starter": dt.timedelta(days=7),
    "professional": dt.timedelta(days=7),
    "enterprise": dt.timedelta(days=1),
}
SCHEDULE_INTERVALS = {
    BackupSchedule.Frequency.WEEKLY: dt.timedelta(days=7),
    BackupSchedule.Frequency.BIWEEKLY: dt.timedelta(days=14),
}
# Beat checks every 15 minutes; a scheduled backup counts as due a little early so that the
# check's own lateness does not push each run later than the one before.
SCHEDULE_TOLERANCE = dt.timedelta(hours=1)


class ImproperlyConfiguredPlan(BackupError):
    def __init__(self, plan: str):
        super().__init__(f"CONCORD_PLAN is {plan!r}; set it to one of {', '.join(PLAN_INTERVALS)}")


def backup_storage():
    return storages[STORAGE_ALIAS]


def current_plan() -> str:
    plan = str(settings.CONCORD_PLAN).strip().lower()
    if plan not in PLAN_INTERVALS:
        raise ImproperlyConfiguredPlan(plan)
    return plan


def plan_period(plan: str) -> str:
    """The period the plan allows one on-demand backup in: "day" or "week"."""
    return "day" if PLAN_INTERVALS[plan] == dt.timedelta(days=1) else "week"


def next_backup_allowed_at(*, now: dt.datetime | None = None) -> dt.datetime | None:
    """When the plan allows the next on-demand backup; None if one is allowed now."""
    now = now or timezone.now()
    interval = PLAN_INTERVALS[current_plan()]
    # Failed backups do not count: the user may try again at once.
    last = (
        Backup.objects.filter(kind=Backup.Kind.MANUAL, created_at__gt=now - interval)
        .exclude(status=Backup.Status.FAILED)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    return None if last is None else last + interval


def create_backup(
    *,
    requested_by=None,
    source: str,
    kind: str = Backup.Kind.MANUAL,
    now: dt.datetime | None = None,
) -> Backup:
    """Queue a backup; an on-demand one is refused (BackupTooSoon) past the plan's limit."""
    sources.validate_source(source)
    now = now or timezone.now()
    with transaction.atomic():
        # Two requests at once must not both pass the limit: serialise them on the schedule row.
        _locked_schedule()
        if kind == Backup.Kind.MANUAL:
            next_at = next_backup_allowed_at(now=now)
            if next_at is not None:
                plan = current_plan()
                raise BackupTooSoon(
                    f"Your plan ({PLAN_LABELS[plan]}) allows one backup a {plan_period(plan)}. "
                    "The next backup "
                    f"is allowed from {next_at:%Y-%m-%d %H:%M} UTC.",
                    next_allowed_at=next_at,
                )
        backup = Backup.objects.create(kind=kind, requested_by=requested_by)
        record_audit(
            verb="backup_requested",
            source=source,
            actor=requested_by,
            target_repr=str(backup),
            detail={"backup": backup.pk, "kind": kind},
        )
        transaction.on_commit(lambda: _enqueue_backup(backup.pk))
    return backup


def _enqueue_backup(backup_id: int) -> None:
    from backups.tasks import run_backup_task

    run_backup_task.delay(backup_id=backup_id)


def run_backup(*, backup_id: int) -> Backup | None:
    """Write a pending backup to storage and tell who asked; a second run is a no-op."""
    now = timezone.now()
    claimed = Backup.objects.filter(pk=backup_id, status=Backup.Status.PENDING).update(
        status=Backup.Status.RUNNING, started_at=now
    )
    if not claimed:
        return None
    backup = Backup.objects.select_related("requested_by").get(pk=backup_id)
    try:
        # A temporary file, not memory: the ZIP may be gigabytes. storage.save() then copies it
        # in chunks to whatever storage backend is configured.
        with tempfile.TemporaryFile(prefix="concord-backup-") as tmp:
            written = write_backup_zip(tmp)
            size = tmp.tell()
            tmp.seek(0)
            stamp = written.snapshot_at.astimezone(dt.UTC).strftime("%Y%m%d-%H%M%S")
            name = backup_storage().save(f"concord-backup-{backup.pk}-{stamp}.zip", File(tmp))
    except Exception as exc:
        logger.exception("backup %s failed", backup.pk)
        _finish_failed(backup, f"{type(exc).__name__}: {exc}")
        return backup
    finished = timezone.now()
    with transaction.atomic():
        Backup.objects.filter(pk=backup.pk).update(
            status=Backup.Status.READY,
            file_name=name,
            size=size,
            counts=written.counts,
            snapshot_at=written.snapshot_at,
            finished_at=finished,
            expires_at=finished + dt.timedelta(days=BACKUP_RETENTION_DAYS),
        )
        backup.refresh_from_db()
        record_audit(
            verb="backup_completed",
            source=sources.SYSTEM,
            actor=backup.requested_by,
            target_repr=str(backup),
            detail={"backup": backup.pk, "counts": written.counts, "size": size},
        )
        total = backup.record_count
        notify(
            users=_recipients(backup),
            kind=Notification.Kind.BACKUP_READY,
            title=f"Your backup is ready ({total:,} records)",
            body=(
                f"Download it until {backup.expires_at:%Y-%m-%d %H:%M} UTC. It holds every "
                "property value, sensitive ones included: keep the file safe."
            ),
            link=download_path(backup),
        )
    return backup


def _finish_failed(backup: Backup, error: str) -> None:
    with transaction.atomic():
        Backup.objects.filter(pk=backup.pk).update(
            status=Backup.Status.FAILED, error=error[:5000], finished_at=timezone.now()
        )
        record_audit(
            verb="backup_failed",
            source=sources.SYSTEM,
            actor=backup.requested_by,
            target_repr=str(backup),
            detail={"backup": backup.pk, "error": error[:500]},
        )
        notify(
            users=_recipients(backup),
            kind=Notification.Kind.BACKUP_FAILED,
            title=f"Backup #{backup.pk} failed",
            body=error[:1000],
            link=reverse("admin:backups_backup_change", args=[backup.pk]),
        )


def _recipients(backup: Backup) -> list:
    if backup.requested_by is not None and backup.kind == Backup.Kind.MANUAL:
        return [backup.requested_by]
    # Nobody asked for a scheduled backup in person: every super admin hears of it.
    return list(list_users_with_permission("backups.download_backup"))


def download_path(backup: Backup) -> str:
    return reverse("admin:backups_backup_download", args=[backup.pk])


def open_backup_file(*, backup: Backup):
    """The backup's ZIP, opened for reading; BackupUnavailable if there is none (any more).

    Expiry is the clock's: past expires_at the file is refused (410) even while the task that
    deletes it has not run yet.
    """
    if backup.status_at(timezone.now()) == Backup.Status.EXPIRED:
        raise BackupUnavailable(
            f"Backup #{backup.pk} expired on {backup.expires_at:%Y-%m-%d}; its file was deleted "
            f"after {BACKUP_RETENTION_DAYS} days.",
            expired=True,
        )
    if backup.status != Backup.Status.READY or not backup.file_name:
        raise BackupUnavailable(
            f"Backup #{backup.pk} is {backup.get_status_display().lower()}: there is no file.",
            expired=False,
        )
    return backup_storage().open(backup.file_name, "rb")


def expire_backups(*, now: dt.datetime | None = None) -> int:
    """Delete the files of backups past their 14 days and mark them expired; safe to rerun."""
    now = now or timezone.now()
    expired = 0
    ids = list(
        Backup.objects.filter(status=Backup.Status.READY, expires_at__lte=now).values_list(
            "pk", flat=True
        )
    )
    for backup_id in ids:
        with transaction.atomic():
            backup = (
                Backup.objects.select_for_update()
                .filter(pk=backup_id, status=Backup.Status.READY)
                .first()
            )
            if backup is None:
                continue
            # Deleted inside the transaction: if the storage refuses, the row stays "ready"
            # and the next run tries again, so no file is ever orphaned silently.
            if backup.file_name:
                backup_storage().delete(backup.file_name)
            Backup.objects.filter(pk=backup_id).update(status=Backup.Status.EXPIRED, file_name="")
            record_audit(
                verb="backup_expired",
                source=sources.SYSTEM,
                target_repr=str(backup),
                detail={"backup": backup_id},
            )
            expired += 1
    return expired


def _locked_schedule() -> BackupSchedule:
    schedule, _ = BackupSchedule.objects.get_or_create(pk=1)
    return BackupSchedule.objects.select_for_update().get(pk=schedule.pk)


def get_schedule() -> BackupSchedule:
    """The schedule (created switched off on first use)."""
    schedule, _ = BackupSchedule.objects.get_or_create(pk=1)
    return schedule


def update_schedule(*, enabled: bool, frequency: str, actor, source: str) -> BackupSchedule:
    """Switch scheduled backups on or off and set their frequency (Enterprise plan only)."""
    sources.validate_source(source)
    if frequency not in SCHEDULE_INTERVALS:
        raise BackupError(
            f"Unknown frequency {frequency!r}; use weekly or biweekly.", field="frequency"
        )
    if enabled and current_plan() != "enterprise":
        raise BackupError(
            f"Scheduled backups need the Enterprise plan; this installation is on "
            f"{PLAN_LABELS[current_plan()]}.",
            field="enabled",
        )
    with transaction.atomic():
        schedule = _locked_schedule()
        before = {"enabled": schedule.enabled, "frequency": schedule.frequency}
        schedule.enabled, schedule.frequency, schedule.updated_by = enabled, frequency, actor
        schedule.save()
        record_audit(
            verb="backup_schedule",
            source=source,
            actor=actor,
            target_repr=str(schedule),
            detail={"before": before, "after": {"enabled": enabled, "frequency": frequency}},
        )
    return schedule


def next_scheduled_backup_at(*, schedule: BackupSchedule | None = None) -> dt.datetime | None:
    """When the next scheduled backup is due; None if scheduling is off."""
    schedule = schedule or get_schedule()
    if not schedule.enabled or current_plan() != "enterprise":
        return None
    last = (
        Backup.objects.filter(kind=Backup.Kind.SCHEDULED)
        .exclude(status=Backup.Status.FAILED)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    if last is None:
        return schedule.updated_at
    return last + SCHEDULE_INTERVALS[schedule.frequency]


def run_scheduled_backups(*, now: dt.datetime | None = None) -> Backup | None:
    """Start the scheduled backup if one is due; run by beat, a no-op when not due."""
    now = now or timezone.now()
    with transaction.atomic():
        schedule = _locked_schedule()
        due = next_scheduled_backup_at(schedule=schedule)
        if due is None or now < due - SCHEDULE_TOLERANCE:
            return None
        return create_backup(
            requested_by=schedule.updated_by,
            source=sources.SYSTEM,
            kind=Backup.Kind.SCHEDULED,
            now=now,
        )
