"""Writes of the sync health page: resync selected errors (H-3) and settle them afterwards."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from crm.audit import record_audit
from crm.models import Record
from syncengine.errors import ResyncRefused, TooManyToResync
from syncengine.models import Integration, ObjectMapping, RecordLink, SyncCycle, SyncError
from syncengine.services.changes import PUSH_DIRECTIONS, mark_links_dirty, primary_mapping

MAX_RESYNC = 100
TOO_MANY = (
    "Resync at most {max} errors at a time ({n} selected). For more, re-import the records or "
    "update a mapped property on them: changed records are pushed by the next sync cycle."
)


def _validate_ids(error_ids: Sequence[object]) -> list[int]:
    if not isinstance(error_ids, (list, tuple)) or not error_ids:
        raise ResyncRefused("Select at least one error (ids: a non-empty list of error ids).")
    if any(isinstance(i, bool) or not isinstance(i, int) or i <= 0 for i in error_ids):
        raise ResyncRefused("Error ids must be positive integers.")
    ids = list(dict.fromkeys(error_ids))
    if len(ids) > MAX_RESYNC:
        raise TooManyToResync(TOO_MANY.format(max=MAX_RESYNC, n=len(ids)))
    return ids


def _records_to_push(errors: list[SyncError]) -> list[int]:
    """The errors' records, blocking records of association errors first, then the rest."""
    blocking = [
        e.record_id for e in errors if e.category == SyncError.Category.ASSOCIATIONS and e.record_id
    ]
    own = [e.record_id for e in errors if e.record_id]
    affected = list(
        SyncError.affected_records.through.objects.filter(error__in=errors)
        .order_by("error_id", "record_id")
        .values_list("record_id", flat=True)
    )
    return list(dict.fromkeys([*blocking, *own, *affected]))


def _mark_dirty(*, integration: Integration, record_ids: list[int]) -> None:
    linked = dict(
        RecordLink.objects.filter(integration=integration, record_id__in=record_ids).values_list(
            "record_id", "object_mapping_id"
        )
    )
    mappings = {
        om.pk: om
        for om in ObjectMapping.objects.filter(
            integration=integration, enabled=True, direction__in=PUSH_DIRECTIONS
        ).order_by("sync_order")
    }
    by_type: dict[int, list[ObjectMapping]] = {}
    for om in mappings.values():
        by_type.setdefault(om.object_type_id, []).append(om)
    types = dict(Record.objects.filter(pk__in=record_ids).values_list("pk", "object_type_id"))
    # Kept in the order given, so a blocking record is queued before the records it blocks.
    for record_id in record_ids:
        om = mappings.get(linked.get(record_id))
        if om is None and types.get(record_id) in by_type:
            om = primary_mapping(by_type[types[record_id]])
        if om is not None:
            mark_links_dirty(object_mapping=om, record_ids=[record_id])


@transaction.atomic
def resync_errors(*, integration: Integration, error_ids: Sequence[object], actor=None) -> dict:
    """Queue the errors' records for a push that starts now; the errors become "resyncing"."""
    ids = _validate_ids(error_ids)
    errors = list(SyncError.objects.select_for_update().filter(integration=integration, pk__in=ids))
    missing = sorted(set(ids) - {e.pk for e in errors})
    if missing:
        raise ResyncRefused(f"No such errors of {integration}: {missing}.")
    if integration.status != Integration.Status.ACTIVE:
        raise ResyncRefused(f"{integration} is {integration.get_status_display().lower()}.")
    errors = [e for e in errors if e.status != SyncError.Status.RESOLVED]
    record_ids = _records_to_push(errors)
    _mark_dirty(integration=integration, record_ids=record_ids)
    now = timezone.now()
    n = SyncError.objects.filter(pk__in=[e.pk for e in errors]).update(
        status=SyncError.Status.RESYNCING, resync_requested_at=now
    )
    record_audit(
        verb="resync_sync_errors",
        source="user" if actor else "api",
        actor=actor,
        target_repr=str(integration),
        detail={"integration": integration.pk, "errors": [e.pk for e in errors]},
    )
    from syncengine.tasks import resync_errors_task

    transaction.on_commit(lambda: resync_errors_task.delay(integration_id=integration.pk))
    return {"resyncing": n, "records": len(record_ids), "skipped": len(ids) - n}


def run_resync(*, integration_id: int, connector=None) -> bool:
    """Run a cycle for the resyncing errors now and settle them; False: try again later.

    Errors the cycle pushed successfully were resolved by it, and errors that failed again
    were re-opened with the new details; those it did not reach go back to open.
    """
    from syncengine.engine.cycles import run_cycle, start_cycle

    integration = Integration.objects.filter(pk=integration_id).first()
    pending = SyncError.objects.filter(
        integration_id=integration_id, status=SyncError.Status.RESYNCING
    )
    if integration is None or not pending.exists():
        return True
    if integration.status != Integration.Status.ACTIVE:
        pending.update(status=SyncError.Status.OPEN)
        return True
    cycle, _ = start_cycle(integration=integration, trigger="resync")
    run_cycle(cycle_id=cycle.pk, connector=connector)  # a no-op if another worker has it
    cycle.refresh_from_db()
    if cycle.status in SyncCycle.ACTIVE or cycle.started_at is None:
        return False
    pending.filter(resync_requested_at__lt=cycle.started_at).update(status=SyncError.Status.OPEN)
    # Requests made while that cycle ran need a cycle of their own.
    return not pending.exists()
