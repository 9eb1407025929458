"""Celery tasks of the CRM: thin wrappers around services."""

from __future__ import annotations

from celery import shared_task

from crm.services.records import purge_expired_records


@shared_task(name="crm.purge_recycle_bin", acks_late=True)
def purge_recycle_bin_task() -> int:
    """Delete records archived longer ago than the retention period; safe to run twice."""
    return purge_expired_records()
