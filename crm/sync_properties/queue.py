"""The change-hook listeners: queue recomputes in the writing transaction, wake a worker on commit.

Pending work is rows in `SyncPropertyPending` (DESIGN.md principle 1): if the Celery message is
lost the periodic sweep still finds the rows; if it is delivered twice the second delivery finds
nothing left to claim.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from crm import hooks
from crm.bulk_sql import insert_rows
from crm.models import SyncPropertyConfig, SyncPropertyPending


def queue_targets(*, config_id: int, record_ids: Iterable[int]) -> int:
    """Queue a recompute of these target records."""
    return _queue(config_id, record_ids, via_source=False)


def queue_sources(*, config_id: int, record_ids: Iterable[int]) -> int:
    """Queue a recompute of every target associated with these source records."""
    return _queue(config_id, record_ids, via_source=True)


def _queue(config_id: int, record_ids: Iterable[int], *, via_source: bool) -> int:
    ids = sorted(set(record_ids))
    if not ids:
        return 0
    now = timezone.now()
    insert_rows(
        SyncPropertyPending,
        ["config_id", "record_id", "via_source", "created_at"],
        [(config_id, pk, via_source, now) for pk in ids],
    )
    wake_worker_on_commit()
    return len(ids)


def wake_worker_on_commit() -> None:
    """Enqueue the queue task once the writing transaction commits (once per transaction)."""
    # A wake-up registered in this savepoint or one enclosing it runs exactly when ours would
    # (and is dropped with ours on rollback). Others are not trusted: a test that never
    # commits keeps callbacks in the list after running them; a duplicate wake-up is harmless.
    open_savepoints = set(connection.savepoint_ids)
    if connection.in_atomic_block and any(
        func is _wake_worker and sids <= open_savepoints
        for sids, func, _ in connection.run_on_commit
    ):
        return
    # robust: a broker that is down must not fail the user's write; the sweep catches up.
    transaction.on_commit(_wake_worker, robust=True)


def _wake_worker() -> None:
    from crm.tasks import process_sync_property_queue_task

    process_sync_property_queue_task.delay()


def _configs(object_type_id: int) -> list[dict]:
    # A small query on every write; without sync properties it returns nothing and we stop.
    return list(
        SyncPropertyConfig.objects.filter(
            Q(source_object_type_id=object_type_id) | Q(property__object_type_id=object_type_id)
        ).values(
            "pk",
            "property_id",
            "property__name",
            "property__object_type_id",
            "source_object_type_id",
            "source_property__name",
            "all_labels",
        )
    )


def on_records_changed(event: hooks.RecordsChanged) -> None:
    """Queue the recomputes a record change calls for."""
    if event.kind == "purged":
        return  # purged records were archived first, which already recomputed their targets
    type_id = event.object_type.pk
    for config in _configs(type_id):
        if config["source_object_type_id"] == type_id:
            source_changed = config["source_property__name"] in event.changed_properties
            if event.kind in ("archived", "restored") or (
                event.kind == "updated" and source_changed
            ):
                queue_sources(config_id=config["pk"], record_ids=event.record_ids)
        if config["property__object_type_id"] == type_id:
            # A restored target missed the changes made while it was in the recycle bin; a
            # target whose copy was written by anyone else (a restore, an import) is corrected.
            overwritten = config["property__name"] in event.changed_properties and (
                event.source != f"sync_property:{config['property_id']}"
            )
            if event.kind == "restored" or overwritten:
                queue_targets(config_id=config["pk"], record_ids=event.record_ids)


def on_associations_changed(event: hooks.AssociationsChanged) -> None:
    """Queue the targets of associations added or removed (a relabel is a remove and an add)."""
    definition = event.definition
    ends = {definition.from_object_type_id, definition.to_object_type_id}
    configs = SyncPropertyConfig.objects.filter(
        property__object_type_id__in=ends, source_object_type_id__in=ends
    ).select_related("property")
    for config in configs:
        target_type_id = config.property.object_type_id
        if {target_type_id, config.source_object_type_id} != ends:
            continue
        if not config.all_labels and not config.definitions.filter(pk=definition.pk).exists():
            continue
        targets: set[int] = set()
        if definition.from_object_type_id == target_type_id:
            targets.update(from_id for from_id, _ in event.pairs)
        if definition.to_object_type_id == target_type_id:
            targets.update(to_id for _, to_id in event.pairs)
        queue_targets(config_id=config.pk, record_ids=targets)


def subscribe() -> None:
    """Called from CrmConfig.ready()."""
    hooks.on_records_changed(on_records_changed)
    hooks.on_associations_changed(on_associations_changed)
