"""The pull stages: remote changes, deletes and conversions into Concord.

Pull updates reads the rows changed since the watermark (or the cursor), in batches of 2,000
(a Salesforce query page): each batch links what it sees for the first time (`matching`),
merges linked records field by field (`merge`), creates records for the rest, and moves the
watermark, in one transaction.
Pull deletes applies the mapping's pull delete rule to the records deleted remotely. Pull
conversions relinks the records of a converted remote record (a Lead) to the record it became
(a Contact), or merges them into that record's Concord record when Concord links it already
(`merges`).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from crm.gc_pause import collector_paused
from crm.models import Record
from crm.services.records import RecordInput, archive_records, restore_records, write_records
from syncengine.connectors.base import RemoteRow
from syncengine.engine import (
    dormant,
    echoes,
    errors,
    guard,
    merge,
    merges,
    owners,
    references,
    timeline,
)
from syncengine.engine.links import NewLink, create_links, update_links
from syncengine.engine.matching import match
from syncengine.engine.usable import UsableFields
from syncengine.models import (
    FieldMapping,
    HeldDelete,
    ObjectMapping,
    RecordLink,
    ReferenceMapping,
    SyncError,
    SyncStage,
)
from syncengine.services.errors import resolve_record_errors

if TYPE_CHECKING:
    from syncengine.engine.runner import CycleRunner

logger = logging.getLogger(__name__)

# Records committed late can carry a stamp older than the newest one already seen; re-reading
# this window each time (changes there are no-ops when nothing changed) and using >= (never >)
# on the watermark means neither late nor equal timestamps are missed.
OVERLAP = dt.timedelta(minutes=2)
# Rows per transaction: a query page, so a batch's fixed costs (its lookups, schema, commit)
# are paid once per page (25 times for 50,000 rows instead of 100 at 500 a batch).
PULL_BATCH = 2000
PULLED = timeline.Direction.PULL
LOOKUP_CHUNK = 5000  # remote ids per link lookup


@dataclass
class _Batch:
    """What one batch of pulled rows asks for, collected before anything is written."""

    rows: dict[str, tuple[dict, dt.datetime]]  # remote id → (normalized values, stamp)
    creates: list[tuple[str, dict]] = field(default_factory=list)
    updates: list[tuple[RecordLink, dict, dict, bool]] = field(default_factory=list)
    ref_changes: list[tuple[ReferenceMapping, int, str | None]] = field(default_factory=list)
    restore_ids: list[int] = field(default_factory=list)
    resumed: list[RecordLink] = field(default_factory=list)  # dormant links back in the filter
    # Unchanged, with a newer stamp or back from the recycle bin: only the link is written.
    restamped: list[RecordLink] = field(default_factory=list)


def pull_updates(run: CycleRunner, om: ObjectMapping) -> None:
    """Pull the records changed remotely since the last pull and merge them into Concord."""
    usable = run.usable[om.pk]
    with run.stage(SyncStage.Operation.PULL_UPDATES, om) as stage:
        fields = [fm.remote_field for fm in usable.fields]
        fields += [r.remote_field for r in usable.refs if r.remote_field in om.remote_schema]
        if usable.has_external_id:
            fields.append(run.ext)
        run.pulled_from[om.pk] = om.watermark
        if run.remote.incremental == "cursor":
            rows = run.connector.pull_changes(om.remote_object, fields, cursor=om.pull_cursor)
        else:
            since = om.watermark - OVERLAP if om.watermark else None
            rows = run.connector.pull_changes(
                om.remote_object, fields, since, own_writes=echoes.to_skip(run, om)
            )
        batch: list[RemoteRow] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= PULL_BATCH:
                _apply_pulled(run, om, usable, batch, stage)
                batch = []
        if batch:
            _apply_pulled(run, om, usable, batch, stage)
        if run.remote.incremental == "stamp":
            _settle_watermark(om)
        # Records outside the remote-side filters (Google's SPEC G-3) are left out, not created;
        # linked ones that left the filter go dormant.
        stage.skipped += rows.excluded
        dormant.leave(run, om, rows.excluded_ids, stage)
        if rows.cursor:
            run.next_cursor[om.pk] = rows.cursor


def _settle_watermark(om: ObjectMapping) -> None:
    watermark = echoes.settled_watermark(om)
    if watermark != om.watermark:
        om.watermark = watermark
        ObjectMapping.objects.filter(pk=om.pk).update(watermark=watermark)


def _apply_pulled(
    run: CycleRunner, om: ObjectMapping, usable: UsableFields, rows: list[RemoteRow], stage
) -> None:
    # Records, links and the watermark commit together: a crash re-pulls the whole batch
    # and finds nothing half-linked (no duplicate Concord records).
    with transaction.atomic(), collector_paused():
        batch = _plan(run, om, usable, rows, stage)
        dormant.resume(batch.resumed, stage)
        if batch.restore_ids:
            restore_records(
                object_type=om.object_type, record_ids=batch.restore_ids, source=run.source
            )
        merged, entries = _write_updates(run, om, usable, batch.updates, stage)
        now = timezone.now()
        update_links(
            ["remote_modstamp", "remote_deleted_at", "synced_at"],
            [(link.pk, link.remote_modstamp, None, now) for link in batch.restamped],
        )
        entries += _write_creates(run, om, usable, batch, stage)
        refs = references.apply_ref_changes(run, om, batch.ref_changes)
        _count_merged(stage, merged, refs)
        timeline.write(run, entries)
        newest = max(stamp for _, stamp in batch.rows.values())
        if om.watermark is None or newest > om.watermark:
            om.watermark = newest
            ObjectMapping.objects.filter(pk=om.pk).update(watermark=newest)
    run.renew_lease()


def _normalized(run: CycleRunner, om: ObjectMapping, rows: list[RemoteRow]) -> dict:
    schema = om.remote_schema
    types: dict[str, str] = {}  # field → remote type, looked up once per batch
    normalize = run.codec.normalize_remote
    out = {}
    for row in rows:
        values = {}
        for name, value in row.values.items():
            kind = types.get(name)
            if kind is None:
                kind = types[name] = schema.get(name, {}).get("type", "string")
            values[name] = normalize(value, kind)
        out[row.remote_id] = (values, row.stamp)
    return out


def _plan(
    run: CycleRunner, om: ObjectMapping, usable: UsableFields, rows: list[RemoteRow], stage
) -> _Batch:
    """Sort a batch's rows into records to create, merge, restore or leave alone."""
    batch = _Batch(rows=_normalized(run, om, rows))
    links = _links(run, om, list(batch.rows))
    unlinked = [rid for rid in batch.rows if rid not in links]
    if unlinked:
        links.update(match(run, om, {rid: batch.rows[rid][0] for rid in unlinked}))
    to_merge: list[tuple[RecordLink, dict, dt.datetime]] = []
    for remote_id, (values, stamp) in batch.rows.items():
        link = links.get(remote_id)
        if link is None:
            batch.creates.append((remote_id, _to_local_values(run, om, usable, values, remote_id)))
            continue
        if link.dormant:
            # Back in the filter: synced again from here, its changes on both sides since it
            # left merged against the values last agreed, like any others.
            batch.resumed.append(link)
        undeleted = link.remote_deleted_at is not None
        if undeleted:
            batch.restore_ids.append(link.record_id)
            link.remote_deleted_at = None
        if _in_recycle_bin(link) and link.record_id not in batch.restore_ids:
            stage.skipped += 1
            continue
        if merge.unchanged(values, link.agreed):
            # Read with the values it was last merged with: nothing to merge (Concord-side
            # changes travel through the dirty flag). A re-read in the overlap window, or
            # Concord's own update read back: that one comes with a newer stamp, which is
            # kept, as is an undelete. (The stamp alone proves nothing: Salesforce stamps
            # whole seconds, so a second edit in the second of a pulled one keeps its stamp
            # and shows only in the values.)
            if undeleted or link.remote_modstamp != stamp:
                link.remote_modstamp = stamp
                batch.restamped.append(link)
            stage.skipped += 1
            continue
        to_merge.append((link, values, stamp))
    _read_records([link for link, _, _ in to_merge])
    local_refs = references.local_refs(
        run, usable, [link.record_id for link, _, _ in to_merge if link.record_id]
    )
    for link, values, stamp in to_merge:
        local_changes, agreed, push = merge_record(run, om, usable, link, values, stamp)
        push |= references.merge_pulled_refs(
            usable, link, values, local_refs, agreed, batch.ref_changes
        )
        link.remote_modstamp = stamp
        batch.updates.append((link, local_changes, agreed, push))
    return batch


def _links(run: CycleRunner, om: ObjectMapping, remote_ids: list[str]) -> dict[str, RecordLink]:
    """The links of these remote records, each knowing whether its record is in the recycle
    bin. The records themselves are read only for the rows that merge (`_read_records`): a
    batch re-read in the overlap window, Concord's own updates among them, merges none, and
    reading a thousand records' properties for nothing cost the cycle after a push a tenth of
    a second."""
    links = RecordLink.objects.filter(
        integration=run.integration, remote_object=om.remote_object, remote_id__in=remote_ids
    ).annotate(record_archived_at=F("record__archived_at"))
    return {link.remote_id: link for link in links}


def _in_recycle_bin(link: RecordLink) -> bool:
    if RecordLink.record.is_cached(link):  # a link matching just made, with its record
        return link.record.archived_at is not None
    return link.record_archived_at is not None


def _read_records(links: list[RecordLink]) -> None:
    """Give these links their records, read in one query."""
    missing = [link for link in links if not RecordLink.record.is_cached(link)]
    records = Record.objects.in_bulk([link.record_id for link in missing])
    for link in missing:
        link.record = records.get(link.record_id)


def merge_record(
    run: CycleRunner,
    om: ObjectMapping,
    usable: UsableFields,
    link: RecordLink,
    values: dict,
    stamp: dt.datetime,
) -> tuple[dict, dict, bool]:
    """Merge one pulled record field by field against the last agreed values: the Concord
    changes to write, the new agreed values, and whether Concord's side must be pushed."""
    record = link.record
    agreed = dict(link.agreed)
    if run.ext in values:
        agreed[run.ext] = values[run.ext]
    local_changes: dict[str, object] = {}
    push = False
    for fm in usable.fields:
        if fm.remote_field not in values:
            continue
        remote, before = values[fm.remote_field], link.agreed.get(fm.remote_field)
        agreed[fm.remote_field] = remote
        winner = merge.field_winner(
            remote=remote,
            agreed=before,
            local=owners.blank_defers(
                fm, outgoing(run, om, fm, record.properties.get(fm.property.name)), before
            ),
            rule=fm.rule,
            conflict_winner=run.conflict_winner,
            remote_stamp=stamp,
            local_changed_at=lambda fm=fm: _local_changed_at(run, record, fm),
        )
        if winner == "remote":
            try:
                local_changes[fm.property.name] = _to_local(run, om, fm, remote)
            except owners.UnknownUser as exc:
                owners.unknown_user(run, om, fm, link.record_id, link.remote_id, str(exc))
                agreed[fm.remote_field] = before
            except run.codec.UnmatchedValue as exc:
                errors.unmatched_picklist(run, om, fm, link.record_id, link.remote_id, str(exc))
                agreed[fm.remote_field] = before
        elif winner == "local" and fm.pk in usable.pushable:
            push = True
    return local_changes, agreed, push


def _local_changed_at(run: CycleRunner, record, fm: FieldMapping) -> dt.datetime | None:
    changed_at = (record.property_changes.get(fm.property.name) or {}).get("at")
    return run.codec.parse_remote_datetime(changed_at) if changed_at else None


def outgoing(run: CycleRunner, om: ObjectMapping, fm: FieldMapping, value: object) -> object:
    """A Concord value in the remote's canonical form (what is sent, and compared)."""
    if owners.is_owner(fm):
        return run.owners.to_remote(value)
    remote = om.remote_schema.get(fm.remote_field, {})
    return run.codec.to_remote(
        value,
        property_type=fm.property.type,
        remote_type=remote.get("type", "string"),
        value_map=fm.value_map,
        picklist_values=remote.get("picklist", ()),
    )


def _to_local(run: CycleRunner, om: ObjectMapping, fm: FieldMapping, value: object) -> object:
    if owners.is_owner(fm):
        return run.owners.to_local(value)
    prop = fm.property
    return run.codec.to_local(
        value,
        property_type=prop.type,
        remote_type=om.remote_schema[fm.remote_field]["type"],
        value_map=fm.value_map,
        # Only picklists read their options (prefetched, but listed anew on each call).
        options=[(o.value, o.label) for o in prop.options.all()] if prop.type in _CHOICES else (),
    )


_CHOICES = ("enumeration", "multiselect")


def _to_local_values(
    run: CycleRunner, om: ObjectMapping, usable: UsableFields, values: dict, remote_id: str
) -> dict:
    local = {}
    for fm in usable.fields:
        if fm.remote_field not in values or values[fm.remote_field] is None:
            continue
        try:
            local[fm.property.name] = _to_local(run, om, fm, values[fm.remote_field])
        except owners.UnknownUser as exc:
            owners.unknown_user(run, om, fm, None, remote_id, str(exc))
        except run.codec.UnmatchedValue as exc:
            errors.unmatched_picklist(run, om, fm, None, remote_id, str(exc))
    return local


def _count_merged(stage, merged: dict[int, bool], refs: references.RefOutcome) -> None:
    """Count the merged records once their references are applied (M-1): one whose
    association could not follow failed; one whose fields or association changed was
    updated; only one with nothing changed at all was skipped."""
    for record_id, changed in merged.items():
        if record_id in refs.failed:
            stage.failed += 1
        elif changed or record_id in refs.changed:
            stage.updated += 1
        else:
            stage.skipped += 1


def _write_updates(
    run: CycleRunner,
    om: ObjectMapping,
    usable: UsableFields,
    updates: list[tuple[RecordLink, dict, dict, bool]],
    stage,
) -> tuple[dict[int, bool], list]:
    """Write the merged values and the links. Failures are counted here, the rest ({record id:
    whether a property changed}) by `_count_merged` once their references are applied; with
    the batch's timeline entries (not yet written)."""
    changed = [(link, props) for link, props, _, _ in updates if props]
    failed: set[int] = set()
    entries = []
    if changed:
        result = write_records(
            object_type=om.object_type,
            inputs=[RecordInput(properties=props, id=link.record_id) for link, props in changed],
            mode="update",
            source=run.source,
            all_or_none=False,
        )
        for item, (link, _props) in zip(result.items, changed, strict=True):
            if item.errors:
                failed.add(link.pk)
                recorded = errors.local_write_error(
                    run, om, link.record_id, link.remote_id, item.errors
                )
                entries.append(timeline.failed(run, stage, PULLED, link.record_id, recorded))
    fields = {fm.property.name: fm.remote_field for fm in usable.fields}
    now = timezone.now()
    to_save = []
    merged: dict[int, bool] = {}
    for link, props, agreed, push in updates:
        if link.pk in failed:
            stage.failed += 1
            continue
        merged[link.record_id] = bool(props)
        if props:
            # The record as read before the write: the old values of the changed properties.
            changes = timeline.property_changes(link.record.properties, props, fields)
            entries.append(timeline.changed(run, stage, PULLED, link.record_id, changes))
        link.agreed = agreed
        link.synced_at = now
        if push:
            link.dirty, link.dirty_at = True, now
        to_save.append(link)
    update_links(
        ["agreed", "synced_at", "dirty", "dirty_at", "remote_modstamp", "remote_deleted_at",
         "object_mapping_id", "remote_object", "remote_id"],
        [
            (link.pk, link.agreed, link.synced_at, link.dirty, link.dirty_at,
             link.remote_modstamp, link.remote_deleted_at, link.object_mapping_id,
             link.remote_object, link.remote_id)
            for link in to_save
        ],
    )  # fmt: skip
    resolve_record_errors(
        integration=run.integration,
        record_ids=[link.record_id for link in to_save],
        direction=SyncError.Direction.PULL,
    )
    return merged, entries


def _write_creates(
    run: CycleRunner, om: ObjectMapping, usable: UsableFields, batch: _Batch, stage
) -> list:
    """Create the records seen for the first time, and their links; their timeline entries."""
    if not batch.creates:
        return []
    fields = {fm.property.name: fm.remote_field for fm in usable.fields}
    entries = []
    result = write_records(
        object_type=om.object_type,
        inputs=[RecordInput(properties=props) for _, props in batch.creates],
        mode="create",
        source=run.source,
        all_or_none=False,
    )
    now = timezone.now()
    links = []
    for item, (remote_id, props) in zip(result.items, batch.creates, strict=True):
        if item.errors or item.id is None:
            stage.failed += 1
            errors.local_write_error(run, om, None, remote_id, item.errors)
            continue
        values, stamp = batch.rows[remote_id]
        links.append(NewLink(item.id, remote_id, dict(values), stamp))
        stage.new += 1
        changes = [timeline.change(fields.get(n, ""), n, None, v) for n, v in props.items()]
        entries.append(timeline.changed(run, stage, PULLED, item.id, changes, created=True))
    create_links(om, links, now)
    # References of new records (e.g. a new Contact's AccountId) become associations.
    ref_changes = []
    for ref in usable.refs:
        for link in links:
            value = batch.rows[link.remote_id][0].get(ref.remote_field)
            if value:
                ref_changes.append((ref, link.record_id, value))
    references.apply_ref_changes(run, om, ref_changes)
    return entries


def pull_deletes(run: CycleRunner, om: ObjectMapping) -> None:
    """Apply the remote deletes since the last pull under the mapping's pull delete rule."""
    with run.stage(SyncStage.Operation.PULL_DELETES, om) as stage:
        since = om.delete_watermark - OVERLAP if om.delete_watermark else None
        newest = om.delete_watermark
        # The stage's deletes are collected in full first: they are applied (and screened)
        # together, and the watermark moves only once they are.
        remote_ids: dict[str, None] = {}
        for row in run.connector.pull_deletes(om.remote_object, since):
            remote_ids[row.remote_id] = None
            newest = max(newest, row.stamp) if newest else row.stamp
        apply_remote_deletes(run, om, list(remote_ids), stage)
        if newest and newest != om.delete_watermark:
            om.delete_watermark = newest
            ObjectMapping.objects.filter(pk=om.pk).update(delete_watermark=newest)
        # The cursor covers updates and deletes: kept only once both are applied.
        if om.pk in run.next_cursor:
            om.pull_cursor = run.next_cursor.pop(om.pk)
            ObjectMapping.objects.filter(pk=om.pk).update(pull_cursor=om.pull_cursor)


def apply_remote_deletes(run: CycleRunner, om: ObjectMapping, remote_ids: list[str], stage) -> int:
    """The one path by which "these remote records are gone" reaches Concord: marks their
    links remote_deleted_at and, under the "archive" pull delete rule, archives their Concord
    records (SPEC L-1). Returns how many links it marked."""
    links: list[RecordLink] = []
    for start in range(0, len(remote_ids), LOOKUP_CHUNK):
        links += RecordLink.objects.filter(
            integration=run.integration,
            remote_object=om.remote_object,
            remote_id__in=remote_ids[start : start + LOOKUP_CHUNK],
            remote_deleted_at__isnull=True,
            dormant=False,  # outside the filter: nothing syncs, deletes neither
        )
    stage.skipped += len(remote_ids) - len(links)
    if om.pull_delete_rule == ObjectMapping.PullDeleteRule.ARCHIVE:
        # Only archives are guarded: under "ignore" a remote delete changes no Concord record.
        links = guard.screen_stage(
            om, direction=HeldDelete.Direction.PULL, links=links, stage=stage
        )
    for start in range(0, len(links), PULL_BATCH):
        _mark_remote_deleted(run, om, links[start : start + PULL_BATCH], stage)
        run.renew_lease()
    return len(links)


def _mark_remote_deleted(
    run: CycleRunner, om: ObjectMapping, links: list[RecordLink], stage
) -> None:
    with transaction.atomic():
        if om.pull_delete_rule == ObjectMapping.PullDeleteRule.ARCHIVE:
            stage.deleted += archive_records(
                object_type=om.object_type,
                record_ids=[link.record_id for link in links],
                source=run.source,
            )
        else:
            stage.skipped += len(links)
        # Gone remotely: nothing left to push there (a delete not sent yet is moot).
        RecordLink.objects.filter(pk__in=[link.pk for link in links]).update(
            remote_deleted_at=timezone.now(), dirty=False, pending_op=RecordLink.PendingOp.NONE
        )


def pull_conversions(run: CycleRunner, om: ObjectMapping) -> None:
    """Converted records (Leads): their Concord records follow the record each became."""
    target = run.remote.conversions[om.remote_object]
    target_mapping = next(
        (
            m
            for m in run.mappings
            if m.remote_object == target and m.object_type_id == om.object_type_id
        ),
        None,
    )
    with run.stage(SyncStage.Operation.PULL_CONVERSIONS, om) as stage:
        if target_mapping is None:
            stage.message = f"No {target} mapping: converted {om.remote_object}s stay as they are."
            return
        # Conversions touch the converted record, so they are within what this cycle pulled.
        start = run.pulled_from.get(om.pk)
        rows = list(
            run.connector.pull_conversions(om.remote_object, start - OVERLAP if start else None)
        )
        links = {
            link.remote_id: link
            for link in RecordLink.objects.filter(
                integration=run.integration,
                remote_object=om.remote_object,
                remote_id__in=[r.remote_id for r in rows],
            )
        }
        for row in rows:
            link = links.get(row.remote_id)
            if link is None or not row.converted_id:
                stage.skipped += 1
            elif _relink(run, om, link, row.converted_id, target_mapping, stage):
                stage.updated += 1
            else:
                stage.skipped += 1


def _relink(
    run: CycleRunner,
    om: ObjectMapping,
    link: RecordLink,
    converted_id: str,
    target: ObjectMapping,
    stage: SyncStage,
) -> bool:
    """Point a converted record's link to the record it became. If that one is linked to
    another Concord record already, the converted record's Concord record is merged into it."""
    taken = (
        RecordLink.objects.filter(
            integration=run.integration, remote_object=target.remote_object, remote_id=converted_id
        )
        .exclude(pk=link.pk)
        .first()
    )
    if taken is not None:
        return merges.merge_converted(run, om, link, taken, stage)
    link.object_mapping, link.remote_object = target, target.remote_object
    link.remote_id, link.agreed = converted_id, {}
    link.dirty, link.dirty_at = True, timezone.now()
    link.save()
    return True
