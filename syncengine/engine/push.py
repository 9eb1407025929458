"""The push stages: Concord's new and changed records to the remote. Where the push is decided.

`push` picks the links to send (dirty, not failed for good since their last change), and the
way: the remote's bulk API for large stages when the connector supports one and the budget
has room, else calls of the connector's batch size. `_payload` decides what one record sends
(the fields whose rule pushes and whose value differs from the last agreed one, its
references, its Concord id); `_send` sends a chunk (`_start_bulk` as a bulk job, the next
one sent before the previous one's answers are written); `_settle` writes the answers back
onto the links (agreed values, dirty flags) and turns refusals into sync errors.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, NamedTuple

from django.db.models import Exists, OuterRef, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from crm.models import Record
from syncengine.connectors.base import RemoteRow, WriteOutcome
from syncengine.connectors.interface import BulkWrite
from syncengine.engine import echoes, errors, owners, references, timeline
from syncengine.engine.links import update_links
from syncengine.engine.usable import PUSHING_RULES, UsableFields
from syncengine.models import (
    FieldMapping,
    ObjectMapping,
    RecordLink,
    SyncError,
    SyncRule,
    SyncStage,
)
from syncengine.services.errors import resolve_record_errors

if TYPE_CHECKING:
    from syncengine.engine.runner import CycleRunner

BULK_THRESHOLD = 2000  # records in a stage above which the bulk API is used
BULK_JOB_SIZE = 10_000
BULK_MIN_CALLS = 20  # a bulk job takes ~10 calls: not started with less budget than this
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
PUSHED = timeline.Direction.PUSH


def push(run: CycleRunner, om: ObjectMapping, *, new: bool) -> None:
    """Send Concord's new (`new`) or changed records of one object to the remote."""
    usable = run.usable[om.pk]
    operation = SyncStage.Operation.PUSH_NEW if new else SyncStage.Operation.PUSH_UPDATES
    with run.stage(operation, om) as stage:
        if run.crashed_push and run.remote.supports_bulk:
            run.crashed_push = False
            aborted = run.connector.abort_open_jobs(run.integration.remote_user_id)
            if aborted:
                stage.message = (
                    f"Aborted {len(aborted)} Bulk API job(s) a stopped worker left open."
                )
        if new and not usable.has_external_id:
            stage.message = f"{om.remote_object} has no {run.ext}: new records are not pushed."
            return
        links = _links_to_push(run, om, new=new)
        if new:
            echoes.creating(run, om)
        # The bulk API for large stages (Salesforce's guidance: over 2,000 records), when the
        # budget has room for a job's ~10 calls; calls of the connector's batch size otherwise.
        remaining = run.meter.remaining()
        bulk = (
            run.remote.supports_bulk
            and (remaining is None or remaining > BULK_MIN_CALLS)
            # Counted no further than the threshold: a large outbox is not counted in full.
            and links[: BULK_THRESHOLD + 1].count() > BULK_THRESHOLD
        )
        chunks = _chunks(links, BULK_JOB_SIZE if bulk else run.remote.batch_size)
        if bulk:
            _push_bulk(run, om, usable, chunks, new, stage)
            stage.message = f"{stage.message} Sent through Bulk API 2.0.".lstrip()
            return
        for chunk in chunks:
            prepared = _prepare(run, om, usable, chunk, new, stage)
            outcomes = _send(run, om, prepared.payloads, new=new) if prepared.payloads else []
            _settle(run, om, usable, prepared, outcomes, new, stage)
            run.renew_lease()


def _chunks(links, size: int) -> Iterator[list[RecordLink]]:
    """The links to push in chunks of `size`, in id order (each read when it is wanted)."""
    last_pk = 0
    while chunk := list(links.filter(pk__gt=last_pk).order_by("pk")[:size]):
        last_pk = chunk[-1].pk
        yield chunk


def _push_bulk(
    run: CycleRunner,
    om: ObjectMapping,
    usable: UsableFields,
    chunks: Iterator[list[RecordLink]],
    new: bool,
    stage: SyncStage,
) -> None:
    """Bulk jobs, each sent before the previous one's outcomes are written: the remote works
    on one job while the engine writes the answers of the one before.

    A record that references a record of its own object (an account's parent account) would
    be prepared before the job creating its target had answered, and wait a cycle for the
    reference: such mappings send one job at a time."""
    overlap = not any(ref.target_id == om.pk for ref in usable.refs)
    in_flight: list[tuple[_Prepared, BulkWrite | None]] = []

    def settle_in_flight() -> None:
        while in_flight:
            _settle_bulk(run, om, usable, *in_flight.pop(), new, stage)

    try:
        for chunk in chunks:
            prepared = _prepare(run, om, usable, chunk, new, stage)
            job = _start_bulk(run, om, prepared.payloads, new=new) if prepared.payloads else None
            settle_in_flight()
            in_flight.append((prepared, job))
            if not overlap:
                settle_in_flight()
            run.renew_lease()
    finally:
        # Also when a later job could not be sent: the answers of the one sent are kept.
        settle_in_flight()


def _links_to_push(run: CycleRunner, om: ObjectMapping, *, new: bool):
    """Dirty links of the object (without a remote id when `new`), minus dormant ones and
    those whose push failed for good since their last change.

    Such a record keeps its dirty mark but waits for a change or a resync (either marks it
    dirty again, after the error) instead of costing calls every cycle; one that failed
    transiently (a code the connector declares transient) is sent again."""
    failed_for_good = SyncError.objects.filter(
        integration=run.integration,
        record_id=OuterRef("record_id"),
        direction=SyncError.Direction.PUSH,
        status=SyncError.Status.OPEN,
        # A link never marked by a change (one matched by a pull) counts as older.
        last_seen_at__gte=Coalesce(OuterRef("dirty_at"), Value(_EPOCH)),
    ).exclude(code__in=run.remote.transient_codes)
    return RecordLink.objects.filter(
        object_mapping=om,
        dirty=True,
        remote_id__isnull=new,
        # A twin deleted remotely (kept in Concord by the "ignore" delete rule) takes no writes.
        remote_deleted_at__isnull=True,
        record__archived_at__isnull=True,
        dormant=False,  # the remote record left the remote-side filter: nothing is sent
    ).exclude(Exists(failed_for_good))


class _Prepared(NamedTuple):
    """A chunk of links ready to send: what each sends, and those with nothing to send."""

    seqs: dict[int, int]  # link id → its change sequence when read (cleared only if unchanged)
    payloads: list[tuple[RecordLink, dict]]
    done: list[RecordLink]  # nothing to send: skipped, or blocked
    unsendable: owners.Unsendable


def _prepare(
    run: CycleRunner,
    om: ObjectMapping,
    usable: UsableFields,
    links: list[RecordLink],
    new: bool,
    stage: SyncStage,
) -> _Prepared:
    seqs = {link.pk: link.change_seq for link in links}
    # Only the values: the records' property_changes (a stamp per property) are not needed.
    properties = dict(
        Record.objects.filter(pk__in=[link.record_id for link in links]).values_list(
            "pk", "properties"
        )
    )
    refs = references.local_refs(run, usable, list(properties))
    payloads: list[tuple[RecordLink, dict]] = []
    done: list[RecordLink] = []
    unsendable = owners.Unsendable()
    sent = _sent_fields(run, om, usable)
    for link in links:
        payload = _payload(
            run, om, usable, sent, link, properties[link.record_id], refs, new, unsendable
        )
        if payload:
            payloads.append((link, payload))
        else:
            done.append(link)
    # Nothing to send is "skipped" (M-1) only when nothing changed: a record whose only
    # change is a reference to a record not in the remote yet is blocked, so failed.
    blocked = sum(
        1 for link in done if link.pending_references or link.record_id in unsendable.record_ids
    )
    stage.failed += blocked
    stage.skipped += len(done) - blocked
    return _Prepared(seqs, payloads, done, unsendable)


def _settle(
    run: CycleRunner,
    om: ObjectMapping,
    usable: UsableFields,
    prepared: _Prepared,
    outcomes: list[WriteOutcome | None],
    new: bool,
    stage: SyncStage,
) -> None:
    """Write a sent chunk's answers back: links, echo spans, errors, timeline."""
    succeeded, failed, entries = _record_outcomes(
        run, om, usable, prepared.payloads, outcomes, new, stage
    )
    saved = succeeded + prepared.done
    seqs = prepared.seqs
    update_links(
        ["remote_id", "agreed", "synced_at", "pending_references", "clear_if_seq"],
        [
            (link.pk, link.remote_id, link.agreed, link.synced_at, link.pending_references,
             seqs[link.pk])
            for link in saved
        ],
    )  # fmt: skip
    if succeeded and new:  # after their agreed values are saved: a crash before re-reads them
        echoes.created(run, om)
    elif succeeded:
        echoes.overwrote(run, om)
    # A failed push never clears the dirty mark: the record is still to be sent.
    update_links(["pending_references"], [(link.pk, link.pending_references) for link in failed])
    resolve_record_errors(
        integration=run.integration,
        record_ids=[link.record_id for link in saved],
        direction=SyncError.Direction.PUSH,
    )
    # After the resolution above: an owner still unsendable stays an open error.
    prepared.unsendable.record(run, om)
    timeline.write(run, entries)


class _SentField(NamedTuple):
    """What a pushed field mapping sends, resolved once per chunk instead of per record."""

    mapping: FieldMapping
    remote_field: str
    prop: str
    to_remote: Callable[[object], object]
    prefer_remote: bool  # PREFER_REMOTE_UNLESS_BLANK: the remote's value wins while it has one
    owner: bool  # an owner: its user's Id, sent only when that user is active


def _sent_fields(run: CycleRunner, om: ObjectMapping, usable: UsableFields) -> list[_SentField]:
    sent = []
    for fm in usable.fields:
        if fm.pk not in usable.pushable or fm.rule not in PUSHING_RULES:
            continue
        owner = owners.is_owner(fm)
        remote = om.remote_schema.get(fm.remote_field, {})
        to_remote = (
            run.owners.to_remote
            if owner
            else partial(
                run.codec.to_remote,
                property_type=fm.property.type,
                remote_type=remote.get("type", "string"),
                value_map=fm.value_map,
                picklist_values=remote.get("picklist", ()),
            )
        )
        prefer_remote = fm.rule == SyncRule.PREFER_REMOTE_UNLESS_BLANK
        sent.append(
            _SentField(fm, fm.remote_field, fm.property.name, to_remote, prefer_remote, owner)
        )
    return sent


def _payload(
    run: CycleRunner,
    om: ObjectMapping,
    usable: UsableFields,
    sent: list[_SentField],
    link: RecordLink,
    properties: dict,
    refs: dict,
    new: bool,
    unsendable: owners.Unsendable,
) -> dict[str, object]:
    """What one record (its properties) sends: pushed fields that differ from the last agreed
    values (every non-blank one when new), references whose targets are in the remote, its
    Concord id. An owner is sent only as an active user (else noted in `unsendable`), never
    blank."""
    payload: dict[str, object] = {}
    agreed_values = link.agreed
    for f in sent:
        agreed = agreed_values.get(f.remote_field)
        if f.prefer_remote and agreed is not None:
            continue  # the remote's value wins while it has one
        value = f.to_remote(properties.get(f.prop))
        if (new and (value is None or value is False)) or (not new and value == agreed):
            continue
        if f.owner and not run.owners.sendable(value):
            if value is not None:
                unsendable.add(f.mapping, link.record_id, value)
            continue
        payload[f.remote_field] = value
    link.pending_references = False
    for ref in usable.refs:
        if ref.rule not in PUSHING_RULES or ref.remote_field not in om.remote_schema:
            continue
        value = refs.get((ref.pk, link.record_id))
        if value and value.startswith(references.UNSYNCED):
            target_id = int(value.removeprefix(references.UNSYNCED))
            errors.blocked_by_association(run, om, ref, [link.record_id], target_id)
            link.pending_references = True
            continue
        if value != link.agreed.get(ref.remote_field) and (value or not new):
            payload[ref.remote_field] = value
    if usable.has_external_id and link.agreed.get(run.ext) != str(link.record_id):
        payload[run.ext] = str(link.record_id)
    return payload


def _send(
    run: CycleRunner, om: ObjectMapping, payloads: list[tuple[RecordLink, dict]], *, new: bool
) -> list[WriteOutcome | None]:
    """One chunk to the remote in calls of its batch size; outcomes in payload order (None:
    not processed, stays dirty)."""
    if new:
        return run.connector.upsert(om.remote_object, run.ext, [p for _, p in payloads])
    rows = [RemoteRow(link.remote_id, p) for link, p in payloads]
    return run.connector.update(om.remote_object, rows)


def _start_bulk(
    run: CycleRunner, om: ObjectMapping, payloads: list[tuple[RecordLink, dict]], *, new: bool
) -> BulkWrite:
    """One chunk to the remote as a bulk job, which works on it while the engine goes on."""
    if new:
        return run.connector.start_bulk_upsert(om.remote_object, run.ext, [p for _, p in payloads])
    rows = [RemoteRow(link.remote_id, p) for link, p in payloads]
    return run.connector.start_bulk_update(om.remote_object, rows)


def _settle_bulk(
    run: CycleRunner,
    om: ObjectMapping,
    usable: UsableFields,
    prepared: _Prepared,
    job: BulkWrite | None,
    new: bool,
    stage: SyncStage,
) -> None:
    """Wait for a bulk job's answers (outcomes by external id when new, else by remote id)
    and write them back."""
    outcomes: list[WriteOutcome | None] = []
    if job is not None:
        by_key = job.outcomes()
        outcomes = [
            by_key.get(payload[run.ext] if new else link.remote_id)
            for link, payload in prepared.payloads
        ]
    _settle(run, om, usable, prepared, outcomes, new, stage)


def _left_blank(om: ObjectMapping, usable: UsableFields, payload: dict) -> dict:
    """What the remote holds for the pushed fields a record was created without: nothing, or
    false for a checkbox (never null in Salesforce). Agreed like the values sent, so that a
    pull reading the record back (after Concord's later update of it, say) finds the values
    agreed and has nothing to merge."""
    schema = om.remote_schema
    blank = {
        fm.remote_field: False if schema[fm.remote_field].get("type") == "boolean" else None
        for fm in usable.fields
        if fm.pk in usable.pushable and fm.rule in PUSHING_RULES and fm.remote_field in schema
    }
    for ref in usable.refs:  # associations not sent: their reference fields are empty
        if ref.rule in PUSHING_RULES and ref.remote_field in schema:
            blank[ref.remote_field] = None
    return {name: value for name, value in blank.items() if name not in payload}


def _record_outcomes(
    run: CycleRunner,
    om: ObjectMapping,
    usable: UsableFields,
    payloads: list[tuple[RecordLink, dict]],
    outcomes: list[WriteOutcome | None],
    new: bool,
    stage: SyncStage,
) -> tuple[list[RecordLink], list[RecordLink], list]:
    """Apply the answers to the links: (succeeded, failed, their timeline entries)."""
    now = timezone.now()
    succeeded: list[RecordLink] = []
    failed: list[RecordLink] = []
    entries = []
    properties = {fm.remote_field: fm.property.name for fm in usable.fields}
    for (link, payload), outcome in zip(payloads, outcomes, strict=True):
        if outcome is None:
            continue
        if outcome.success:
            created = new and outcome.created
            # Old values: what the remote held as far as Concord knew (none for a new one).
            old = {} if created else link.agreed
            changes = [
                timeline.change(name, properties.get(name, ""), old.get(name), value)
                for name, value in payload.items()
            ]
            entries.append(
                timeline.changed(run, stage, PUSHED, link.record_id, changes, created=created)
            )
            link.remote_id = outcome.remote_id or link.remote_id
            if created:
                defaulted = owners.defaulted_on_create(run, usable, payload)
                link.agreed = {**_left_blank(om, usable, payload), **defaulted, **payload}
            else:
                link.agreed = {**link.agreed, **payload}
            link.synced_at = now
            succeeded.append(link)
            if new and outcome.created:
                stage.new += 1
            else:
                stage.updated += 1
        else:
            stage.failed += 1
            failed.append(link)
            recorded = errors.push_error(run, om, usable, link, link.record_id, outcome)
            entries.append(timeline.failed(run, stage, PUSHED, link.record_id, recorded))
    return succeeded, failed, entries
