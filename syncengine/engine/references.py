"""References between records, both ways: reference fields (a Contact's AccountId) and junction
objects (records linking two records, e.g. contact roles) ↔ Concord associations.

Pulled reference fields become associations (`apply_ref_changes`); the update-foreign-keys
stage sends the references that could not be sent with their record (the target was not in
the remote yet) and merges junction records with associations (`sync_junction`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db import transaction

from crm.errors import AssociationError, CrmError
from crm.models import Association
from crm.services.associations import associate_records, dissociate
from syncengine.connectors.base import RemoteRow
from syncengine.engine import echoes, errors, junction_reads, merge
from syncengine.engine.links import update_links
from syncengine.engine.usable import PULL_DIRECTIONS, PUSH_DIRECTIONS, PUSHING_RULES, UsableFields
from syncengine.models import ObjectMapping, RecordLink, ReferenceMapping, SyncRule, SyncStage

if TYPE_CHECKING:
    from syncengine.engine.runner import CycleRunner

UNSYNCED = "unsynced:"  # prefix of a local reference to a record not in the remote yet
PENDING_LIMIT = 2000  # links with pending references handled per object and cycle


def local_refs(run: CycleRunner, usable: UsableFields, record_ids: list[int]) -> dict:
    """(reference mapping id, record id) → the remote id the association points to
    ("unsynced:<record id>" for a target not in the remote yet)."""
    out: dict[tuple[int, int], str | None] = {}
    if not usable.refs or not record_ids:
        return out
    for ref in usable.refs:
        rows = list(
            Association.objects.filter(definition=ref.definition, from_record_id__in=record_ids)
            .order_by("created_at", "pk")
            .values_list("from_record_id", "to_record_id")
        )
        remote = dict(
            RecordLink.objects.filter(
                integration=run.integration, record_id__in={t for _, t in rows}
            ).values_list("record_id", "remote_id")
        )
        for from_id, to_id in rows:
            out.setdefault((ref.pk, from_id), remote.get(to_id) or f"{UNSYNCED}{to_id}")
    return out


def merge_pulled_refs(
    usable: UsableFields,
    link: RecordLink,
    values: dict,
    refs: dict,
    agreed: dict,
    changes: list[tuple[ReferenceMapping, int, str | None]],
) -> bool:
    """Merge a pulled record's reference fields: the remote's become `changes` (associations
    to write), Concord's are pushed. Updates `agreed`; whether something is to be pushed."""
    push = False
    for ref in usable.refs:
        if ref.remote_field not in values:
            continue
        remote_value = values[ref.remote_field]
        local_value = refs.get((ref.pk, link.record_id))
        agreed[ref.remote_field] = remote_value
        if remote_value == local_value:
            continue
        winner = merge.reference_winner(
            remote=remote_value,
            agreed=link.agreed.get(ref.remote_field),
            local=local_value,
            always_local=ref.rule == SyncRule.ALWAYS_CONCORD,
        )
        if winner == "local":
            push = True
        else:
            changes.append((ref, link.record_id, remote_value))
    return push


@dataclass
class RefOutcome:
    """Which records' pulled references became associations, and which could not."""

    changed: set[int] = field(default_factory=set)
    failed: set[int] = field(default_factory=set)


def apply_ref_changes(
    run: CycleRunner, om: ObjectMapping, changes: list[tuple[ReferenceMapping, int, str | None]]
) -> RefOutcome:
    """Pulled reference fields → associations (replacing the old one of that definition)."""
    outcome = RefOutcome()
    if not changes:
        return outcome
    remote_ids = {value for _, _, value in changes if value}
    targets = dict(
        RecordLink.objects.filter(
            integration=run.integration, remote_id__in=list(remote_ids)
        ).values_list("remote_id", "record_id")
    )
    for ref, record_id, value in changes:
        target_id = targets.get(value) if value else None
        if value and target_id is None:
            errors.reference_not_synced(run, om, ref, record_id, value)
            outcome.failed.add(record_id)
            continue
        existing = list(
            Association.objects.filter(
                definition=ref.definition, from_record_id=record_id
            ).select_related("definition")
        )
        stale = [a for a in existing if a.to_record_id != target_id]
        try:
            with transaction.atomic():
                if stale:
                    dissociate(associations=stale, source=run.source)
                if target_id and not any(a.to_record_id == target_id for a in existing):
                    associate_records(
                        definition=ref.definition, pairs=[(record_id, target_id)], source=run.source
                    )
        except (AssociationError, CrmError) as exc:
            errors.association_limit(run, om, ref, record_id, exc)
            outcome.failed.add(record_id)
        else:
            if stale or (target_id and not any(a.to_record_id == target_id for a in existing)):
                outcome.changed.add(record_id)
    return outcome


# --- the update-foreign-keys stage ----------------------------------------------------------


def update_foreign_keys(run: CycleRunner) -> None:
    """Sync junction objects, then send the references that waited for their targets."""
    with run.stage(SyncStage.Operation.UPDATE_FOREIGN_KEYS) as stage:
        for om in run.mappings:
            for ref in run.usable[om.pk].junctions if om.pk in run.usable else []:
                if ref.rule != SyncRule.DONT_SYNC and ref.target_id in run.by_id:
                    sync_junction(run, om, ref, stage)
        for om in run.mappings:
            usable = run.usable.get(om.pk)
            if usable and usable.refs and om.direction in PUSH_DIRECTIONS:
                _push_pending_refs(run, om, usable, stage)


def _push_pending_refs(
    run: CycleRunner, om: ObjectMapping, usable: UsableFields, stage: SyncStage
) -> None:
    links = list(
        RecordLink.objects.filter(
            object_mapping=om, pending_references=True, remote_id__isnull=False
        ).order_by("pk")[:PENDING_LIMIT]
    )
    size = run.remote.batch_size
    for start in range(0, len(links), size):
        chunk = links[start : start + size]
        refs = local_refs(run, usable, [link.record_id for link in chunk])
        payloads = []
        waiting: dict[tuple[ReferenceMapping, int], list[int]] = {}  # (ref, target) → records
        for link in chunk:
            payload, pending = {}, False
            for ref in usable.refs:
                value = refs.get((ref.pk, link.record_id))
                if value and value.startswith(UNSYNCED):
                    pending = True
                    target_id = int(value.removeprefix(UNSYNCED))
                    waiting.setdefault((ref, target_id), []).append(link.record_id)
                elif value != link.agreed.get(ref.remote_field):
                    payload[ref.remote_field] = value
            link.pending_references = pending
            if payload:
                payloads.append((link, payload))
            elif pending:
                # Still waiting for its associated record (whose error says why): a record
                # blocked by an association failed to sync; it is not "unchanged" (M-1).
                stage.failed += 1
            else:
                stage.skipped += 1
        # Seen again by this stage, once per blocking record: its error stays current and
        # lists every record still waiting (the dashboard links this stage's failed count).
        for (ref, target_id), record_ids in waiting.items():
            errors.blocked_by_association(run, om, ref, record_ids, target_id)
        if payloads:
            outcomes = run.connector.update(
                om.remote_object, [RemoteRow(link.remote_id, p) for link, p in payloads]
            )
            for (link, payload), outcome in zip(payloads, outcomes, strict=True):
                if outcome.success:
                    link.agreed = {**link.agreed, **payload}
                    # Sent, but another of its references still waits: blocked, so failed.
                    if link.pending_references:
                        stage.failed += 1
                    else:
                        stage.updated += 1
                else:
                    link.pending_references = True
                    stage.failed += 1
                    errors.push_error(run, om, usable, link, link.record_id, outcome)
        RecordLink.objects.bulk_update(chunk, ["agreed", "pending_references"])
        if payloads and any(outcome.success for outcome in outcomes):
            echoes.wrote_references(run, om)


# --- junction objects -----------------------------------------------------------------------


@dataclass
class _Junctions:
    """Both sides of one junction object for the parents of one object mapping."""

    parents: dict[str, RecordLink]  # parent remote id → its link
    remote: dict[str, dict[str, str]] = field(default_factory=dict)  # parent → child → junction
    local: dict[str, dict[str, int]] = field(default_factory=dict)  # parent → child → assoc pk
    agreed: dict[str, dict[str, str]] = field(default_factory=dict)  # parent → child → junction
    child_record: dict[str, int] = field(default_factory=dict)  # child remote id → record id
    creates: list[tuple[str, str]] = field(default_factory=list)
    deletes: list[tuple[str, str, str]] = field(default_factory=list)
    associate: list[tuple[str, str]] = field(default_factory=list)
    dissociate: list[tuple[str, str, int]] = field(default_factory=list)
    # The remote's junction records per parent ({junction id: child}) and their watermark.
    mirrors: dict[str, dict[str, str]] = field(default_factory=dict)
    watermark: dt.datetime | None = None


def sync_junction(
    run: CycleRunner, om: ObjectMapping, ref: ReferenceMapping, stage: SyncStage
) -> None:
    """Merge junction records (e.g. contact roles) with associations, both ways.

    The parent's link keeps what both sides last agreed on under agreed[junction] as
    {child remote id: junction id}: a pair on one side only is new there if it is not in
    that record, and was removed from the other side if it is. The remote side is read
    incrementally (`junction_reads`). Junctions carry no external id, so a create is only
    sent for a pair the remote side showed missing: a create whose answer was lost is found
    by the next cycle's read instead of being sent twice."""
    parents = {
        link.remote_id: link
        for link in RecordLink.objects.filter(object_mapping=om, remote_id__isnull=False)
    }
    if not parents:
        return  # no junction can point to a record we know: spare the read
    j = _read_both_sides(run, ref, parents)
    pull = om.direction in PULL_DIRECTIONS and ref.rule != SyncRule.ALWAYS_CONCORD
    push = om.direction in PUSH_DIRECTIONS and ref.rule in PUSHING_RULES
    for parent_id in parents:
        _plan_pairs(j, parent_id, pull=pull, push=push)
    _send_creates(run, om, ref, j, stage)
    _send_deletes(run, om, ref, j, stage)
    _associate(run, om, ref, j, stage)
    _dissociate(run, j, stage)
    key = junction_reads.mirror_key(ref)
    changed = [
        (link.pk, {**link.agreed, ref.remote_field: j.agreed[p], key: j.mirrors[p]})
        for p, link in parents.items()
        if j.agreed[p] != (link.agreed.get(ref.remote_field) or {})
        or j.mirrors[p] != link.agreed.get(key)
    ]
    # The mirrors and the watermark they were read up to move together.
    with transaction.atomic():
        update_links(["agreed"], changed)
        if j.watermark != ref.junction_watermark:
            ref.junction_watermark = j.watermark
            ReferenceMapping.objects.filter(pk=ref.pk).update(junction_watermark=j.watermark)


def _read_both_sides(
    run: CycleRunner, ref: ReferenceMapping, parents: dict[str, RecordLink]
) -> _Junctions:
    j = _Junctions(parents=parents)
    j.mirrors, j.watermark = junction_reads.read_remote(run, ref, parents)
    for parent_id, mirror in j.mirrors.items():
        if mirror:
            j.remote[parent_id] = junction_reads.pairs_of(mirror)
    by_record = {link.record_id: link for link in parents.values()}
    pairs = list(
        Association.objects.filter(
            definition=ref.definition, from_record_id__in=list(by_record)
        ).values_list("pk", "from_record_id", "to_record_id")
    )
    children = RecordLink.objects.filter(object_mapping_id=ref.target_id)
    child_remote = dict(
        children.filter(
            record_id__in={to for _, _, to in pairs}, remote_id__isnull=False
        ).values_list("record_id", "remote_id")
    )
    wanted = {c for cs in j.remote.values() for c in cs} | {
        c for link in parents.values() for c in link.agreed.get(ref.remote_field) or {}
    }
    j.child_record = dict(
        children.filter(remote_id__in=wanted).values_list("remote_id", "record_id")
    )
    for pk, from_id, to_id in pairs:
        if to_id in child_remote:  # children not in the remote yet wait for a later cycle
            j.local.setdefault(by_record[from_id].remote_id, {})[child_remote[to_id]] = pk
    j.agreed = {p: dict(link.agreed.get(ref.remote_field) or {}) for p, link in parents.items()}
    return j


def _plan_pairs(j: _Junctions, parent_id: str, *, pull: bool, push: bool) -> None:
    """Decide each pair of one parent: keep, create or delete remotely, (dis)associate."""
    theirs, ours = j.remote.get(parent_id, {}), j.local.get(parent_id, {})
    known = j.agreed[parent_id]
    for child_id in theirs.keys() | ours.keys() | known.keys():
        there, here, before = child_id in theirs, child_id in ours, child_id in known
        if there and here:
            known[child_id] = theirs[child_id]
        elif there and before:  # removed in Concord
            if push:
                j.deletes.append((parent_id, child_id, theirs[child_id]))
            elif pull and child_id in j.child_record:  # the remote wins: put it back
                j.associate.append((parent_id, child_id))
        elif there:  # new in the remote
            if pull and child_id in j.child_record:
                j.associate.append((parent_id, child_id))
        elif here and before:  # removed in the remote
            if pull:
                j.dissociate.append((parent_id, child_id, ours[child_id]))
            else:
                known.pop(child_id)
        elif here:  # new in Concord
            if push:
                j.creates.append((parent_id, child_id))
        else:  # gone on both sides
            known.pop(child_id)


def _send_creates(
    run: CycleRunner, om: ObjectMapping, ref: ReferenceMapping, j: _Junctions, stage: SyncStage
) -> None:
    size = run.remote.batch_size
    for start in range(0, len(j.creates), size):
        chunk = j.creates[start : start + size]
        outcomes = run.connector.create_junctions(ref.remote_field, chunk)
        for (parent_id, child_id), outcome in zip(chunk, outcomes, strict=True):
            if outcome.success:
                j.agreed[parent_id][child_id] = outcome.remote_id
                j.mirrors[parent_id][outcome.remote_id] = child_id
                stage.new += 1
            else:
                stage.failed += 1
                errors.junction_error(run, om, ref, j.parents[parent_id], outcome)


def _send_deletes(
    run: CycleRunner, om: ObjectMapping, ref: ReferenceMapping, j: _Junctions, stage: SyncStage
) -> None:
    size = run.remote.batch_size
    for start in range(0, len(j.deletes), size):
        chunk = j.deletes[start : start + size]
        outcomes = run.connector.delete([junction_id for _, _, junction_id in chunk])
        for (parent_id, child_id, junction_id), outcome in zip(chunk, outcomes, strict=True):
            if outcome.success:
                j.agreed[parent_id].pop(child_id, None)
                j.mirrors[parent_id].pop(junction_id, None)
                stage.deleted += 1
            else:
                stage.failed += 1
                errors.junction_error(run, om, ref, j.parents[parent_id], outcome)


def _associate(
    run: CycleRunner, om: ObjectMapping, ref: ReferenceMapping, j: _Junctions, stage: SyncStage
) -> None:
    if not j.associate:
        return
    rows = [(j.parents[p].record_id, j.child_record[c]) for p, c in j.associate]
    try:
        with transaction.atomic():
            associate_records(definition=ref.definition, pairs=rows, source=run.source)
        done = j.associate
    except (AssociationError, CrmError):
        done = []  # one pair the CRM refuses must not block the others
        for pair, row in zip(j.associate, rows, strict=True):
            try:
                with transaction.atomic():
                    associate_records(definition=ref.definition, pairs=[row], source=run.source)
                done.append(pair)
            except (AssociationError, CrmError) as exc:
                stage.failed += 1
                errors.association_refused(run, om, ref, j.remote[pair[0]][pair[1]], row, exc)
    for parent_id, child_id in done:
        j.agreed[parent_id][child_id] = j.remote[parent_id][child_id]
        stage.new += 1


def _dissociate(run: CycleRunner, j: _Junctions, stage: SyncStage) -> None:
    if not j.dissociate:
        return
    dissociate(
        associations=list(
            Association.objects.filter(pk__in=[pk for _, _, pk in j.dissociate]).select_related(
                "definition__from_object_type"
            )
        ),
        source=run.source,
    )
    for parent_id, child_id, _ in j.dissociate:
        j.agreed[parent_id].pop(child_id, None)
        stage.deleted += 1
