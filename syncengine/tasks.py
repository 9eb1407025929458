"""Celery tasks of the sync engine: thin wrappers around services, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from syncengine.connectors.base import TransientError


@shared_task(
    name="syncengine.run_cycle",
    acks_late=True,
    autoretry_for=(TransientError,),
    retry_backoff=30,
    retry_backoff_max=900,
    retry_jitter=True,
    max_retries=6,
)
def run_cycle_task(*, cycle_id: int) -> str | None:
    """Run a queued cycle; the service claims it, so a second delivery does nothing."""
    from syncengine.engine.cycles import run_cycle

    cycle = run_cycle(cycle_id=cycle_id)
    return cycle.status if cycle else None


@shared_task(name="syncengine.schedule_cycles", acks_late=True)
def schedule_cycles_task() -> list[int]:
    """Beat: start a cycle for every integration whose interval has passed."""
    from syncengine.engine.cycles import schedule_due_cycles

    return schedule_due_cycles()


@shared_task(name="syncengine.prune_history", acks_late=True)
def prune_history_task() -> int:
    """Beat: delete sync history older than 30 days and API buckets out of the window."""
    from syncengine.engine.cycles import prune_stages
    from syncengine.services.usage import prune_api_buckets

    return prune_stages() + prune_api_buckets()


@shared_task(name="syncengine.resync_errors", bind=True, acks_late=True, max_retries=120)
def resync_errors_task(self, *, integration_id: int) -> None:
    """Push the records of errors staff chose to resync now, then settle those errors."""
    from syncengine.health.services import run_resync

    if not run_resync(integration_id=integration_id):
        raise self.retry(countdown=10)  # a cycle is still running; settle after it ends
