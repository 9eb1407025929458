"""Merging duplicate records: one winner keeps living, the losers go to the recycle bin.

The winner's empty values are filled from the losers (in the order given, unless the caller says
not to), the losers' associations move to the winner (never twice, never beyond a definition's
limit), and the losers are archived through the normal archive path with `merged_into` set, so
the change hook announces them as archived like any other archive. Everything happens in one
transaction; a refused merge changes nothing.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q

from crm import sources
from crm.audit import record_audit_many
from crm.errors import MergeError
from crm.models import Association, AssociationDefinition, ObjectType, Record
from crm.schema import Schema, load_schema_for_write
from crm.services.associations import associate_records, dissociate
from crm.services.record_apply import SENSITIVE_MASK
from crm.services.records import archive_records, update_record

MAX_LOSERS = 10
EMPTY = (None, "", [])


@dataclass(slots=True)
class MergeOutcome:
    """What a merge did, for its audit event and for callers that report it."""

    filled: dict[str, tuple[int, object]] = field(default_factory=dict)  # name → (from id, value)
    moved: int = 0
    dropped: list[dict] = field(default_factory=list)


def merge_records(
    *,
    object_type: ObjectType,
    winner_id: int,
    loser_ids: Sequence[int],
    fill_blanks: bool = True,
    keep: Collection[str] = (),
    actor=None,
    source: str,
) -> Record:
    """Merge the losers into the winner; returns the winner. Raises MergeError on bad input.

    `keep` names properties never filled from the losers (a sync leaves those a remote
    master decided to the remote)."""
    sources.validate_source(source)
    loser_ids = _checked_ids(winner_id, loser_ids)
    with transaction.atomic():
        records = _locked_records(object_type, [winner_id, *loser_ids])
        winner, losers = records[winner_id], [records[i] for i in loser_ids]
        schema = load_schema_for_write(object_type)
        outcome = MergeOutcome()
        if fill_blanks:
            fills = planned_fills(schema, winner, losers, actor=actor, source=source)
            outcome.filled = {k: v for k, v in fills.items() if k not in keep}
        # Associations move first: the association service refuses archived endpoints.
        _move_associations(winner, losers, outcome, actor, source)
        archive_records(
            object_type=object_type,
            record_ids=loser_ids,
            actor=actor,
            source=source,
            merged_into=winner.pk,
        )
        # Filled after the losers are archived, so a unique value (an email) can move over.
        # The values are the losers' own, carried over: an owner who has since been
        # deactivated still owns what the merged record held, nothing is newly assigned.
        if outcome.filled:
            update_record(
                record=winner,
                properties={name: value for name, (_, value) in outcome.filled.items()},
                actor=actor,
                source=source,
                carried=outcome.filled.keys(),
            )
        _audit(schema, winner, losers, outcome, actor, source)
    return Record.objects.select_related("object_type").get(pk=winner.pk)


def planned_fills(
    schema: Schema, winner: Record, losers: Sequence[Record], *, actor=None, source: str
) -> dict[str, tuple[int, object]]:
    """The winner's empty values a merge would fill: {name: (loser id, value)}, first loser
    with a value wins. Read-only and sync properties (Concord computes them) are left alone,
    as are properties the actor may not edit."""
    system = sources.is_system_source(source)
    fills: dict[str, tuple[int, object]] = {}
    for name, prop in schema.properties.items():
        if winner.properties.get(name) not in EMPTY or prop.is_sync:
            continue
        if (prop.read_only and not system) or not schema.can_edit(actor, name):
            continue
        for loser in losers:
            value = loser.properties.get(name)
            if value not in EMPTY:
                fills[name] = (loser.pk, value)
                break
    return fills


def _checked_ids(winner_id: int, loser_ids: Sequence[int]) -> list[int]:
    losers = list(loser_ids)
    if not losers:
        raise MergeError("name at least one record to merge into the winner", field="losers")
    if len(losers) > MAX_LOSERS:
        raise MergeError(
            f"{len(losers)} records to merge; a merge takes at most {MAX_LOSERS}", field="losers"
        )
    if len(set(losers)) != len(losers):
        raise MergeError("a record is named twice among the losers", field="losers")
    if winner_id in losers:
        raise MergeError(f"record {winner_id} cannot be both winner and loser", field="losers")
    return losers


def _locked_records(object_type: ObjectType, ids: list[int]) -> dict[int, Record]:
    # Locked in id order, so two merges over the same records cannot deadlock.
    records = {
        r.pk: r for r in Record.objects.select_for_update().filter(pk__in=ids).order_by("pk")
    }
    for index, pk in enumerate(ids):
        where = "winner" if index == 0 else "losers"
        record = records.get(pk)
        if record is None:
            raise MergeError(f"record {pk} does not exist", field=where)
        if record.object_type_id != object_type.pk:
            raise MergeError(f"record {pk} is not one of {object_type.name}", field=where)
        if record.archived_at is not None:
            raise MergeError(f"record {pk} is in the recycle bin", field=where)
    return records


def _move_associations(
    winner: Record, losers: Sequence[Record], outcome: MergeOutcome, actor, source: str
) -> None:
    loser_ids = {r.pk for r in losers}
    old = list(
        Association.objects.select_related("definition__from_object_type")
        .filter(Q(from_record_id__in=loser_ids) | Q(to_record_id__in=loser_ids))
        .order_by("pk")
    )
    if not old:
        return
    wanted: dict[int, list[tuple[int, int]]] = defaultdict(list)
    definitions: dict[int, AssociationDefinition] = {}
    for a in old:
        pair = tuple(winner.pk if i in loser_ids else i for i in (a.from_record_id, a.to_record_id))
        if pair[0] != pair[1] and pair not in wanted[a.definition_id]:
            wanted[a.definition_id].append(pair)
            definitions[a.definition_id] = a.definition
    dissociate(associations=old, actor=actor, source=source)
    for definition_id, pairs in wanted.items():
        definition = definitions[definition_id]
        fitting, dropped = _within_limits(definition, pairs)
        outcome.dropped += [
            {"definition": definition_id, "from_record": a, "to_record": b} for a, b in dropped
        ]
        outcome.moved += len(
            associate_records(definition=definition, pairs=fitting, actor=actor, source=source)
        )


def _within_limits(
    definition: AssociationDefinition, pairs: list[tuple[int, int]]
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Split pairs into those that fit the definition's limits (the winner's own associations
    count first) and those that would break one (dropped, as the winner keeps its own)."""
    froms, tos = {p[0] for p in pairs}, {p[1] for p in pairs}
    existing = set(
        Association.objects.filter(definition=definition)
        .filter(Q(from_record_id__in=froms) | Q(to_record_id__in=tos))
        .values_list("from_record_id", "to_record_id")
    )
    pairs = [p for p in pairs if p not in existing]
    counts = [Counter(p[0] for p in existing), Counter(p[1] for p in existing)]
    limits = [definition.from_limit, definition.to_limit]
    fitting, dropped = [], []
    for pair in pairs:
        if any(
            limits[side] is not None and counts[side][pair[side]] >= limits[side] for side in (0, 1)
        ):
            dropped.append(pair)
            continue
        counts[0][pair[0]] += 1
        counts[1][pair[1]] += 1
        fitting.append(pair)
    return fitting, dropped


def _audit(
    schema: Schema, winner: Record, losers: Sequence[Record], outcome: MergeOutcome, actor, source
) -> None:
    sensitive = {n for n, p in schema.properties.items() if p.sensitive}
    filled = {
        name: {"from": loser_id, "value": SENSITIVE_MASK if name in sensitive else value}
        for name, (loser_id, value) in sorted(outcome.filled.items())
    }
    winner_detail = {
        "losers": [r.pk for r in losers],
        "filled": filled,
        "associations_moved": outcome.moved,
        "associations_dropped": outcome.dropped,
    }
    record_audit_many(
        verb="merge",
        source=source,
        actor=actor,
        object_type=schema.object_type,
        targets=[
            (winner.pk, winner.display_name, winner_detail),
            *((r.pk, r.display_name, {"merged_into": winner.pk}) for r in losers),
        ],
    )
