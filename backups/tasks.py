"""Celery tasks of backups and restores: thin wrappers around the services."""

from __future__ import annotations

from celery import shared_task

from backups.services import backups as backup_services
from backups.services import restore_apply


@shared_task(name="backups.run_backup", acks_late=True)
def run_backup_task(*, backup_id: int) -> None:
    """Write one backup; the service claims it, so a second delivery does nothing."""
    backup_services.run_backup(backup_id=backup_id)


@shared_task(name="backups.expire_backups", acks_late=True)
def expire_backups_task() -> int:
    """Delete backup files older than 14 days; safe to run twice."""
    return backup_services.expire_backups()


@shared_task(name="backups.run_scheduled_backups", acks_late=True)
def run_scheduled_backups_task() -> None:
    """Start the scheduled backup when it is due; run by beat every 15 minutes."""
    backup_services.run_scheduled_backups()


@shared_task(name="backups.apply_restore", acks_late=True)
def apply_restore_task(*, restore_id: int) -> None:
    """Apply a confirmed restore in batches; a second delivery resumes or does nothing."""
    restore_apply.apply_restore(restore_id=restore_id)
