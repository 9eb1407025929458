"""Change capture (DESIGN principle 1): CRM changes mark record links dirty in the same
transaction; changes that came from an integration never mark that integration's links."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import F
from django.utils import timezone

from crm.hooks import AssociationsChanged, RecordsChanged
from crm.models import Record
from crm.sources import integration_source
from syncengine.models import HeldDelete, Integration, ObjectMapping, RecordLink, ReferenceMapping

PUSH_DIRECTIONS = (ObjectMapping.Direction.TWO_WAY, ObjectMapping.Direction.TO_REMOTE)
CHUNK = 5000


def _pushing_mappings(object_type_id: int) -> list[ObjectMapping]:
    return list(
        ObjectMapping.objects.filter(
            object_type_id=object_type_id,
            enabled=True,
            direction__in=PUSH_DIRECTIONS,
            integration__status=Integration.Status.ACTIVE,
        )
        .prefetch_related("field_mappings__property")
        .order_by("integration_id", "sync_order")
    )


def primary_mapping(mappings: list[ObjectMapping]) -> ObjectMapping:
    """Which remote object new records go to: Leads when the Lead mapping is on (contacts
    become Leads until converted), otherwise the first mapping."""
    for om in mappings:
        if om.remote_object == "Lead":
            return om
    return mappings[0]


def mark_links_dirty(*, object_mapping: ObjectMapping, record_ids: Iterable[int]) -> None:
    """Mark the records' links dirty, creating links for records not linked yet."""
    ids = list(record_ids)
    now = timezone.now()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        existing = RecordLink.objects.filter(
            integration_id=object_mapping.integration_id, record_id__in=chunk
        )
        # change_seq lets a push clear the flag only if nothing changed while it ran.
        existing.update(dirty=True, dirty_at=now, change_seq=F("change_seq") + 1)
        linked = set(existing.values_list("record_id", flat=True))
        missing = [pk for pk in chunk if pk not in linked]
        if missing:
            RecordLink.objects.bulk_create(
                [
                    RecordLink(
                        integration_id=object_mapping.integration_id,
                        object_mapping=object_mapping,
                        record_id=pk,
                        remote_object=object_mapping.remote_object,
                        dirty=True,
                        dirty_at=now,
                    )
                    for pk in missing
                ],
                ignore_conflicts=True,
                batch_size=1000,
            )


def queue_initial_push(*, integration: Integration) -> int:
    """Mark every active record of the pushed object types dirty, for the first sync.

    Records that existed before the connection changed before any hook could see them; the
    first cycle's pulls link those that already exist remotely (matched by email or domain),
    and its pushes send the rest.
    """
    queued = 0
    mappings = ObjectMapping.objects.filter(
        integration=integration, enabled=True, direction__in=PUSH_DIRECTIONS
    ).order_by("sync_order")
    by_type: dict[int, list[ObjectMapping]] = {}
    for om in mappings:
        by_type.setdefault(om.object_type_id, []).append(om)
    for object_type_id, type_mappings in by_type.items():
        ids = Record.objects.filter(
            object_type_id=object_type_id, archived_at__isnull=True
        ).values_list("pk", flat=True)
        ids = list(ids.order_by("pk"))
        mark_links_dirty(object_mapping=primary_mapping(type_mappings), record_ids=ids)
        queued += len(ids)
    return queued


def on_records_changed(event: RecordsChanged) -> None:
    """Record hook: a change to a mapped property marks links dirty (not our own echoes); an
    archive or restore marks the links' lifecycle change to push (`pending_op`)."""
    if event.kind == "archived":
        mark_pending_deletes(object_type_id=event.object_type.pk, event=event)
        return
    if event.kind == "restored":
        mark_pending_restores(object_type_id=event.object_type.pk, event=event)
    if event.kind not in ("created", "updated", "restored"):
        return
    by_integration: dict[int, list[ObjectMapping]] = {}
    for om in _pushing_mappings(event.object_type.pk):
        by_integration.setdefault(om.integration_id, []).append(om)
    for integration_id, mappings in by_integration.items():
        if event.source == integration_source(integration_id):
            continue
        if event.kind == "updated":
            mapped = {fm.property.name for om in mappings for fm in om.field_mappings.all()}
            if not (mapped & event.changed_properties):
                continue
        mark_links_dirty(object_mapping=primary_mapping(mappings), record_ids=event.record_ids)


def on_associations_changed(event: AssociationsChanged) -> None:
    """Association hook: a mapped association (e.g. primary company ↔ AccountId) changed."""
    refs = list(
        ReferenceMapping.objects.filter(
            definition=event.definition,
            object_mapping__enabled=True,
            object_mapping__direction__in=PUSH_DIRECTIONS,
            object_mapping__integration__status=Integration.Status.ACTIVE,
        ).select_related("object_mapping")
    )
    record_ids = sorted({from_id for from_id, _ in event.pairs})
    for ref in refs:
        if event.source == integration_source(ref.object_mapping.integration_id):
            continue
        mark_links_dirty(object_mapping=ref.object_mapping, record_ids=record_ids)


def _linked(event: RecordsChanged, mappings: list[ObjectMapping]):
    """The links of the event's records in the given mappings' integrations, except the
    integration the change came from (its remote made it: nothing to send back)."""
    integrations = {
        om.integration_id
        for om in mappings
        if event.source != integration_source(om.integration_id)
    }
    return RecordLink.objects.filter(
        integration_id__in=integrations, record_id__in=event.record_ids
    )


def mark_pending_deletes(*, object_type_id: int, event: RecordsChanged) -> int:
    """Archived records: their remote twins are to be deleted where the record's mapping
    pushes deletes (SPEC L-1); the mark commits with the archive."""
    mappings = [
        om
        for om in _pushing_mappings(object_type_id)
        if om.push_delete_rule == ObjectMapping.PushDeleteRule.DELETE
    ]
    if not mappings:
        return 0
    return (
        _linked(event, mappings)
        .filter(
            object_mapping__in=mappings,
            remote_id__isnull=False,
            remote_deleted_at__isnull=True,
        )
        .update(pending_op=RecordLink.PendingOp.DELETE)
    )


def mark_pending_restores(*, object_type_id: int, event: RecordsChanged) -> int:
    """Restored records: a delete not sent yet is called off; a remote twin that is gone is
    to be brought back (SPEC L-2)."""
    mappings = _pushing_mappings(object_type_id)
    if not mappings:
        return 0
    links = _linked(event, mappings).filter(object_mapping__in=mappings)
    unsent = links.filter(pending_op=RecordLink.PendingOp.DELETE, remote_deleted_at__isnull=True)
    # A delete the mass-delete guard holds for them is moot too: off the health page with it.
    HeldDelete.objects.filter(
        link__in=unsent,
        direction=HeldDelete.Direction.PUSH,
        status__in=(HeldDelete.Status.HELD, HeldDelete.Status.CONFIRMED),
    ).update(status=HeldDelete.Status.DISCARDED, decided_at=timezone.now())
    unsent.update(pending_op=RecordLink.PendingOp.NONE)
    return links.filter(remote_deleted_at__isnull=False, remote_id__isnull=False).update(
        pending_op=RecordLink.PendingOp.RESTORE
    )
