"""Celery tasks of the CRM: thin wrappers around services."""

from __future__ import annotations

from celery import shared_task
from django.db import DatabaseError

from crm.services.records import purge_expired_records
from crm.sync_properties import services as sync_property_services


@shared_task(name="crm.purge_recycle_bin", acks_late=True)
def purge_recycle_bin_task() -> int:
    """Delete records archived longer ago than the retention period; safe to run twice."""
    return purge_expired_records()


@shared_task(
    name="crm.process_sync_property_queue",
    acks_late=True,
    autoretry_for=(DatabaseError,),  # a deadlock or lost connection: the rows are still queued
    retry_backoff=1,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=8,
)
def process_sync_property_queue_task() -> int:
    """Recompute the sync property values queued by changes; a second delivery finds nothing."""
    return sync_property_services.process_queue()


@shared_task(name="crm.backfill_sync_property", acks_late=True)
def backfill_sync_property_task(*, config_id: int) -> int:
    """Fill a sync property on every existing target; claimed, so running it twice is a no-op."""
    return sync_property_services.run_backfill(config_id=config_id)


@shared_task(name="crm.sweep_sync_properties", acks_late=True)
def sweep_sync_properties_task() -> int:
    """Every 30 s (beat): work queued recomputes and resume backfills whose message was lost."""
    return sync_property_services.sweep()
