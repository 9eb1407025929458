"""Sync property writes: configure (with the refusals of SPEC P), backfill, work the queue."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from crm.audit import record_property_audit
from crm.errors import SchemaError
from crm.models import (
    AssociationDefinition,
    ObjectType,
    Property,
    Record,
    SyncPropertyConfig,
    SyncPropertyPending,
)
from crm.services.property_values import set_property_values
from crm.sync_properties import engine

logger = logging.getLogger(__name__)

# Rows of the queue claimed per transaction; each may fan out to many targets.
CLAIM_SIZE = 1000
# A running backfill not heard of for this long lost its worker: another delivery resumes it.
STALE_BACKFILL = dt.timedelta(minutes=5)
ALL_LABELS = "all"


@dataclass(frozen=True, slots=True)
class SyncSettings:
    """A sync property's configuration, checked and resolved to model instances."""

    source_object_type: ObjectType
    source_property: Property
    all_labels: bool
    definitions: tuple[AssociationDefinition, ...]
    criterion: str


# --- configuration ----------------------------------------------------------------------------


def check_sync_settings(
    *,
    target_object_type: ObjectType,
    source_object_type: ObjectType | str | None,
    source_property: Property | str | None,
    association_labels: Sequence[str] | str | None = ALL_LABELS,
    definitions: Sequence[AssociationDefinition | int] | None = None,
    criterion: str = SyncPropertyConfig.Criterion.FIRST_CREATED,
    prop: Property | None = None,
) -> SyncSettings:
    """Check a sync configuration and resolve it; raises SchemaError naming the bad field.

    Labels are given either as `definitions` (association definitions or their ids) or as
    `association_labels` ("all", or label names, "" for the unlabelled association, matched in
    both directions between the two object types). `prop` is the sync property being changed.
    """
    source_type = _resolve_object_type(source_object_type)
    source_prop = _resolve_source_property(source_type, source_property)
    if source_prop.restricted:
        raise SchemaError(
            f"{source_prop} has restricted view and edit access; a sync property cannot copy "
            "from a restricted property",
            field="sync.source_property",
        )
    _check_no_loop(prop, source_prop)
    eligible = engine.eligible_definitions(target_object_type.pk, source_type.pk)
    if not eligible:
        raise SchemaError(
            f"{source_type.name} and {target_object_type.name} have no association defined "
            "between them, so there is no record to copy from",
            field="sync.source_object_type",
        )
    all_labels, chosen = _resolve_labels(
        eligible, target_object_type, source_type, association_labels, definitions
    )
    if criterion not in SyncPropertyConfig.Criterion.values:
        raise SchemaError(
            f"unknown criterion {criterion!r}; use "
            f"{' or '.join(SyncPropertyConfig.Criterion.values)}",
            field="sync.criterion",
        )
    return SyncSettings(
        source_object_type=source_type,
        source_property=source_prop,
        all_labels=all_labels,
        definitions=tuple(chosen),
        criterion=criterion,
    )


def configure_sync_property(
    *, prop: Property, settings: SyncSettings, actor=None, source: str
) -> SyncPropertyConfig:
    """Save a sync property's configuration and backfill every target (in a worker)."""
    with transaction.atomic():
        config, created = SyncPropertyConfig.objects.update_or_create(
            property=prop,
            defaults={
                "source_object_type": settings.source_object_type,
                "source_property": settings.source_property,
                "all_labels": settings.all_labels,
                "criterion": settings.criterion,
            },
        )
        config.definitions.set(settings.definitions)
        if not created:
            record_property_audit(
                prop=prop,
                verb="update_sync_property",
                source=source,
                actor=actor,
                detail=describe(config),
            )
        start_backfill(config=config)
    return config


def recompute_sync_property(*, prop: Property, actor=None, source: str) -> None:
    """Recompute a sync property on every target (e.g. after a bulk change outside Concord)."""
    with transaction.atomic():
        config = SyncPropertyConfig.objects.select_for_update().get(property=prop)
        start_backfill(config=config)
        record_property_audit(prop=prop, verb="recompute_sync_property", source=source, actor=actor)


def describe(config: SyncPropertyConfig) -> dict:
    return {
        "source_property": str(config.source_property),
        "association_labels": ALL_LABELS
        if config.all_labels
        else [str(d) for d in config.definitions.all()],
        "criterion": config.criterion,
    }


def _resolve_object_type(value: ObjectType | str | None) -> ObjectType:
    if isinstance(value, ObjectType):
        return value
    found = ObjectType.objects.filter(name=value).first() if value else None
    if found is None:
        raise SchemaError(
            "choose the object type to copy from" if not value else f"no object type {value!r}",
            field="sync.source_object_type",
        )
    return found


def _resolve_source_property(source_type: ObjectType, value: Property | str | None) -> Property:
    if isinstance(value, Property):
        if value.object_type_id != source_type.pk:
            raise SchemaError(
                f"{value} is not a property of {source_type.name}", field="sync.source_property"
            )
        return value
    found = (
        Property.objects.filter(object_type=source_type, name=value)
        .select_related("object_type")
        .first()
        if value
        else None
    )
    if found is None:
        raise SchemaError(
            "choose the property to copy from"
            if not value
            else f"{source_type.name} has no property {value!r}",
            field="sync.source_property",
        )
    return found


def _check_no_loop(prop: Property | None, source_prop: Property) -> None:
    """Refuse a source that is, or copies (through a chain of sync properties), `prop` itself."""
    chain = [source_prop]
    current = source_prop
    seen = {current.pk}
    while True:
        if prop is not None and current.pk == prop.pk:
            path = " ← ".join(str(p) for p in [prop, *chain])
            raise SchemaError(
                f"this would make a loop of sync properties ({path}); a sync property cannot "
                "copy from itself",
                field="sync.source_property",
            )
        if current.type != Property.Type.PROPERTY_SYNC:
            return
        config = (
            SyncPropertyConfig.objects.filter(property=current)
            .select_related("source_property__object_type")
            .first()
        )
        if config is None or config.source_property_id in seen:
            return
        current = config.source_property
        seen.add(current.pk)
        chain.append(current)


def _resolve_labels(
    eligible: list[AssociationDefinition],
    target_type: ObjectType,
    source_type: ObjectType,
    association_labels,
    definitions,
) -> tuple[bool, list[AssociationDefinition]]:
    by_id = {d.pk: d for d in eligible}
    if definitions:
        chosen = []
        for item in definitions:
            pk = item.pk if isinstance(item, AssociationDefinition) else item
            if pk not in by_id:
                raise SchemaError(
                    f"association definition {item} does not link {target_type.name} and "
                    f"{source_type.name}",
                    field="sync.association_labels",
                )
            chosen.append(by_id[pk])
        return False, chosen
    if association_labels is None or association_labels == ALL_LABELS:
        return True, []
    if isinstance(association_labels, str) or not association_labels:
        raise SchemaError(
            'give "all" or a list of association labels', field="sync.association_labels"
        )
    chosen = []
    for label in association_labels:
        matches = [d for d in eligible if d.label == label]
        if not matches:
            offered = ", ".join(repr(d.label) for d in eligible)
            raise SchemaError(
                f"no association labelled {label!r} between {target_type.name} and "
                f"{source_type.name}; labels: {offered}",
                field="sync.association_labels",
            )
        chosen.extend(matches)
    return False, list(dict.fromkeys(chosen))


# --- backfill ---------------------------------------------------------------------------------


def start_backfill(*, config: SyncPropertyConfig) -> None:
    """(Re)compute every target of a sync property in a worker, with progress for staff."""
    total = Record.objects.filter(
        object_type_id=config.property.object_type_id, archived_at__isnull=True
    ).count()
    SyncPropertyConfig.objects.filter(pk=config.pk).update(
        backfill_status=SyncPropertyConfig.BackfillStatus.PENDING,
        backfill_total=total,
        backfill_done=0,
        backfill_cursor=0,
        backfill_error="",
        backfill_started_at=None,
        backfill_updated_at=timezone.now(),
        backfill_finished_at=None,
    )
    config.refresh_from_db()
    config_id = config.pk

    def enqueue():
        from crm.tasks import backfill_sync_property_task

        backfill_sync_property_task.delay(config_id=config_id)

    transaction.on_commit(enqueue, robust=True)


def run_backfill(*, config_id: int, batch_size: int = engine.BATCH_SIZE) -> int:
    """Backfill a sync property in batches, one transaction each; returns records changed.

    The backfill is claimed with a conditional UPDATE, so a second delivery of the task does
    nothing while the first runs (or after it finished); one whose worker died is resumed from
    its cursor once it has been silent for STALE_BACKFILL.
    """
    now = timezone.now()
    claimed = SyncPropertyConfig.objects.filter(
        Q(backfill_status=SyncPropertyConfig.BackfillStatus.PENDING)
        | Q(
            backfill_status=SyncPropertyConfig.BackfillStatus.RUNNING,
            backfill_updated_at__lt=now - STALE_BACKFILL,
        ),
        pk=config_id,
    ).update(
        backfill_status=SyncPropertyConfig.BackfillStatus.RUNNING,
        backfill_started_at=now,
        backfill_updated_at=now,
    )
    if not claimed:
        return 0
    config = SyncPropertyConfig.objects.select_related("property").get(pk=config_id)
    route = engine.load_route(config)
    changed = 0
    cursor = config.backfill_cursor
    try:
        while True:
            with transaction.atomic():
                ids = list(
                    Record.objects.filter(
                        object_type_id=route.target_type_id,
                        archived_at__isnull=True,
                        pk__gt=cursor,
                    )
                    .order_by("pk")
                    .values_list("pk", flat=True)[:batch_size]
                )
                if not ids:
                    SyncPropertyConfig.objects.filter(pk=config_id).update(
                        backfill_status=SyncPropertyConfig.BackfillStatus.DONE,
                        backfill_updated_at=timezone.now(),
                        backfill_finished_at=timezone.now(),
                    )
                    return changed
                changed += recompute_targets(route=route, target_ids=ids)
                cursor = ids[-1]
                updated = SyncPropertyConfig.objects.filter(
                    pk=config_id, backfill_status=SyncPropertyConfig.BackfillStatus.RUNNING
                ).update(
                    backfill_cursor=cursor,
                    backfill_done=F("backfill_done") + len(ids),
                    backfill_updated_at=timezone.now(),
                )
                if not updated:
                    return changed  # restarted (configuration changed) or deleted meanwhile
    except Exception as exc:
        SyncPropertyConfig.objects.filter(pk=config_id).update(
            backfill_status=SyncPropertyConfig.BackfillStatus.FAILED,
            backfill_error=f"{type(exc).__name__}: {exc}"[:2000],
            backfill_updated_at=timezone.now(),
        )
        raise


def sweep() -> int:
    """The periodic safety net: restart backfills whose message was lost, then work the queue."""
    stale = timezone.now() - STALE_BACKFILL
    lost = SyncPropertyConfig.objects.filter(
        Q(backfill_status=SyncPropertyConfig.BackfillStatus.PENDING, backfill_updated_at__lt=stale)
        | Q(
            backfill_status=SyncPropertyConfig.BackfillStatus.RUNNING, backfill_updated_at__lt=stale
        )
    ).values_list("pk", flat=True)
    from crm.tasks import backfill_sync_property_task

    for config_id in lost:
        backfill_sync_property_task.delay(config_id=config_id)
    return process_queue()


# --- the queue --------------------------------------------------------------------------------


def process_queue(*, claim_size: int = CLAIM_SIZE) -> int:
    """Claim queued recomputes and apply them, batch after batch; returns records changed.

    Each claim is deleted in the transaction that applies it: a worker that dies mid-way rolls
    back and leaves the rows for the next one. Claimed rows are locked (SKIP LOCKED), so several
    workers share the queue without doing any row twice.
    """
    changed = 0
    while True:
        with transaction.atomic():
            claimed = _claim(claim_size)
            if not claimed:
                return changed
            changed += _apply_claimed(claimed)


def _claim(limit: int) -> list[tuple[int, int, bool]]:
    table = SyncPropertyPending._meta.db_table
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} ORDER BY id "
                "LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING config_id, record_id, via_source",
                [limit],
            )
            return cursor.fetchall()
    # SQLite: the transaction is IMMEDIATE, so it holds the write lock from its first statement.
    rows = list(
        SyncPropertyPending.objects.order_by("pk").values_list(
            "pk", "config_id", "record_id", "via_source"
        )[:limit]
    )
    if rows:
        SyncPropertyPending.objects.filter(pk__in=[r[0] for r in rows]).delete()
    return [r[1:] for r in rows]


def _apply_claimed(claimed: list[tuple[int, int, bool]]) -> int:
    targets: dict[int, set[int]] = defaultdict(set)
    sources: dict[int, set[int]] = defaultdict(set)
    for config_id, record_id, via_source in claimed:
        (sources if via_source else targets)[config_id].add(record_id)
    configs = (
        SyncPropertyConfig.objects.filter(pk__in={*targets, *sources})
        .select_related("property", "source_property")
        .prefetch_related("definitions")
        .order_by("pk")
    )
    changed = 0
    for route in engine.load_routes(configs):
        ids = targets.get(route.config_id, set())
        ids.update(engine.targets_of_sources(route, sorted(sources.get(route.config_id, ()))))
        changed += recompute_targets(route=route, target_ids=sorted(ids))
    return changed


def recompute_targets(*, route: engine.Route, target_ids: Sequence[int]) -> int:
    """Recompute targets set-wise and write the values that changed; returns how many."""
    changed = 0
    for start in range(0, len(target_ids), engine.BATCH_SIZE):
        batch = target_ids[start : start + engine.BATCH_SIZE]
        with transaction.atomic():
            engine.lock_records(batch)
            values = engine.compute_changes(route, batch)
            if not values:
                continue
            object_type = ObjectType.objects.get(pk=route.target_type_id)
            result = set_property_values(
                object_type=object_type,
                name=route.property_name,
                values=values,
                source=route.source,
            )
            failed = [item for item in result.items if item.errors]
            if failed:
                # A value the copy cannot hold should not block the rest of the batch.
                logger.warning(
                    "sync property %s: %d targets not written, e.g. %s",
                    route.property_id,
                    len(failed),
                    failed[0].errors,
                )
            changed += result.count("updated")
    return changed
