"""Sync cycles: start one (at most one active per integration), claim it, run it, schedule
due ones, prune old ones. What a cycle does is in `runner.py` and the stage modules."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from syncengine.connectors.interface import Connector
from syncengine.engine.runner import CycleRunner, lease
from syncengine.errors import IntegrationNotActive
from syncengine.models import Integration, SyncCycle, SyncTimelineEntry

# --- starting and claiming ------------------------------------------------------------------


def start_cycle(
    *, integration: Integration, trigger: str = "manual", actor=None
) -> tuple[SyncCycle, bool]:
    """Queue a cycle unless one is queued or running (the database refuses a second one)."""
    if integration.status != Integration.Status.ACTIVE:
        raise IntegrationNotActive(f"{integration} is {integration.get_status_display().lower()}")
    try:
        with transaction.atomic():
            cycle = SyncCycle.objects.create(
                integration=integration,
                trigger=trigger,
                requested_by=actor if getattr(actor, "pk", None) else None,
            )
    except IntegrityError:
        active = SyncCycle.objects.filter(
            integration=integration, status__in=SyncCycle.ACTIVE
        ).first()
        if active is None:  # it finished in between: try once more
            return start_cycle(integration=integration, trigger=trigger, actor=actor)
        _wake(active)
        return active, False
    from syncengine.tasks import run_cycle_task

    transaction.on_commit(lambda: run_cycle_task.delay(cycle_id=cycle.pk))
    return cycle, True


def _wake(cycle: SyncCycle) -> None:
    """Asked to sync while a cycle is active: make sure a worker takes it up. One whose worker
    died is claimable as soon as its lease runs out, so a task is sent for that moment (now if
    it has passed) instead of waiting for beat; with a live worker the claim simply fails."""
    from syncengine.tasks import run_cycle_task

    eta = cycle.lease_until if cycle.status == SyncCycle.Status.RUNNING else None
    if eta is not None and eta > timezone.now():
        # A moment after the lease's end, so the claim sees it expired.
        eta += dt.timedelta(seconds=1)
        transaction.on_commit(
            lambda: run_cycle_task.apply_async(kwargs={"cycle_id": cycle.pk}, eta=eta)
        )
    else:
        transaction.on_commit(lambda: run_cycle_task.delay(cycle_id=cycle.pk))


def claim_cycle(*, cycle_id: int) -> SyncCycle | None:
    """Take a queued cycle (or one whose worker died: its lease ran out); None if taken."""
    now = timezone.now()
    claimed = (
        SyncCycle.objects.filter(pk=cycle_id)
        .filter(
            Q(status=SyncCycle.Status.QUEUED)
            | Q(status=SyncCycle.Status.RUNNING, lease_until__lt=now)
        )
        .update(
            status=SyncCycle.Status.RUNNING,
            started_at=Coalesce(F("started_at"), Value(now)),
            lease_until=now + lease(),
        )
    )
    if not claimed:
        return None
    return SyncCycle.objects.select_related("integration").get(pk=cycle_id)


def run_cycle(*, cycle_id: int, connector: Connector | None = None) -> SyncCycle | None:
    """Claim and run a cycle; a second delivery of the same cycle does nothing."""
    cycle = claim_cycle(cycle_id=cycle_id)
    if cycle is None:
        return None
    CycleRunner(cycle, connector=connector).run()
    cycle.refresh_from_db()
    return cycle


def schedule_due_cycles(*, now: dt.datetime | None = None) -> list[int]:
    """Start a cycle for each active integration whose interval has passed; re-queue cycles
    whose worker died (their lease ran out). Safe to run twice."""
    now = now or timezone.now()
    started = []
    stale = SyncCycle.objects.filter(status=SyncCycle.Status.RUNNING, lease_until__lt=now)
    from syncengine.tasks import run_cycle_task

    for cycle_id in stale.values_list("pk", flat=True):
        transaction.on_commit(lambda pk=cycle_id: run_cycle_task.delay(cycle_id=pk))
    for integration in Integration.objects.filter(status=Integration.Status.ACTIVE):
        last = integration.cycles.order_by("-created_at").values_list("created_at", flat=True)
        last_at = last.first()
        interval = dt.timedelta(minutes=max(1, integration.sync_interval_minutes))
        if last_at is not None and now - last_at < interval - dt.timedelta(seconds=5):
            continue
        cycle, created = start_cycle(integration=integration, trigger="schedule")
        if created:
            started.append(cycle.pk)
    return started


def prune_stages(*, days: int = 30, now: dt.datetime | None = None) -> int:
    """Delete finished cycles older than `days`, with their stages and the stages' timeline."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    old = SyncCycle.objects.filter(created_at__lt=cutoff).exclude(status__in=SyncCycle.ACTIVE)
    with transaction.atomic():
        # The records' timeline rows of those stages in one statement, not collected one by one.
        SyncTimelineEntry.objects.filter(stage__cycle__in=old).delete()
        return old.delete()[0]
