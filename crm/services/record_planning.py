"""Planning record writes: validate and coerce inputs, match records, compute changes.

Nothing here writes. Every input gets an ItemResult; its errors carry the codes of
crm.errors.ValueCode, and an input with errors is left out of the plan's creates and updates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from crm import sources
from crm.errors import CrmError, FieldErrors, ValueCode
from crm.models import Property
from crm.owners import active_owner_ids, existing_owner_ids, owner_refusal, unknown_owner_refusal
from crm.schema import Schema
from crm.services.record_uniqueness import (
    CurrentRecord,
    active_records_by_id,
    existing_unique_values,
    lock_unique_values,
    records_by_unique_value,
    unique_names,
)
from crm.values import InvalidValue, PropertySpec, coerce_value

if TYPE_CHECKING:  # records.py builds on this module; it names RecordInput for annotations only
    from crm.services.records import RecordInput

Mode = Literal["create", "update", "upsert"]
Action = Literal["created", "updated", "unchanged"]


@dataclass(slots=True)
class ItemResult:
    """The outcome of one input: the record's id, what was done, or why it was refused."""

    index: int
    id: int | None = None
    action: Action | None = None
    errors: FieldErrors = field(default_factory=FieldErrors)


@dataclass(slots=True)
class PlannedWrite:
    """One input, validated: its coerced values, the record it matches and its changes."""

    item: ItemResult
    values: dict[str, object]  # coerced; None means clear
    carried: frozenset[str] = frozenset()  # values moved from other records (RecordInput)
    existing: CurrentRecord | None = None
    new_properties: dict[str, object] | None = None
    changed: frozenset[str] = frozenset()
    # The upsert key whose value was already looked up among active records (under the lock).
    matched_on: str | None = None


@dataclass(slots=True)
class WritePlan:
    """Every input's result, and the valid inputs that create or change a record."""

    items: list[ItemResult]
    creates: list[PlannedWrite]
    updates: list[PlannedWrite]


def plan_writes(
    schema: Schema,
    inputs: Sequence[RecordInput],
    mode: Mode,
    id_property: str | None,
    actor,
    source: str,
    *,
    locked_properties: Mapping[int, dict] | None = None,
    values_coerced: bool = False,
) -> WritePlan:
    """Validate every input, match the records it refers to, and compute what changes."""
    rules = PropertyRules(schema, actor, source)
    planned = [
        validate_input(
            schema, i, record_input, mode, actor, source, rules=rules, coerced=values_coerced
        )
        for i, record_input in enumerate(inputs)
    ]
    _match_existing(schema, planned, inputs, mode, id_property, locked_properties or {})
    # A sync copies the remote's owner as it is: a record owned by someone who has left
    # (inactive in Salesforce, so in Concord) is still theirs.
    check_owner_values(schema, planned, allow_inactive=sources.is_integration_source(source))
    _check_unique_values(schema, planned)
    plan = WritePlan(items=[p.item for p in planned], creates=[], updates=[])
    for p in planned:
        if p.item.errors:
            continue
        if p.existing is None:
            p.new_properties = {k: v for k, v in p.values.items() if v is not None}
            p.changed = frozenset(p.new_properties)
            p.item.action = "created"
            plan.creates.append(p)
            continue
        merged = dict(p.existing.properties)
        changed = set()
        for name, value in p.values.items():
            if merged.get(name) != value:
                changed.add(name)
                if value is None:
                    merged.pop(name, None)
                else:
                    merged[name] = value
        p.item.id = p.existing.pk
        if changed:
            p.new_properties, p.changed = merged, frozenset(changed)
            p.item.action = "updated"
            plan.updates.append(p)
        else:
            p.item.action = "unchanged"
    return plan


# (the property's spec, None) if it may be written, else (None, (message, code)).
RuleAnswer = tuple[PropertySpec, None] | tuple[None, tuple[str, ValueCode]]


class PropertyRules:
    """Whether an actor may write each property from a source, decided once per batch.

    A bulk write names the same few properties in every input: their checks (known, writable,
    permitted) are answered once, not once per value.
    """

    def __init__(self, schema: Schema, actor, source: str):
        self._schema = schema
        self._actor = actor
        self._system = sources.is_system_source(source)
        self._answers: dict[str, RuleAnswer] = {}

    def check(self, name: str) -> RuleAnswer:
        """May the property be written: its spec, or why not."""
        answer = self._answers.get(name)
        if answer is None:
            answer = self._answers[name] = self._decide(name)
        return answer

    def _decide(self, name: str) -> RuleAnswer:
        schema = self._schema
        prop = schema.properties.get(name)
        if prop is None:
            message = f"unknown property of {schema.object_type.name}"
            return None, (message, ValueCode.UNKNOWN_PROPERTY)
        if prop.read_only and not self._system:
            return None, ("is read-only", ValueCode.READ_ONLY)
        if not schema.can_edit(self._actor, name):
            message = "you do not have permission to edit this property"
            return None, (message, ValueCode.FORBIDDEN)
        return schema.specs[name], None


def validate_input(
    schema: Schema,
    index: int,
    record_input: RecordInput,
    mode: Mode,
    actor,
    source: str,
    *,
    rules: PropertyRules | None = None,
    coerced: bool = False,
) -> PlannedWrite:
    """Check one input's properties (known, writable, permitted) and coerce its values.

    `rules` (of the same schema, actor and source) carries the permission answers across the
    inputs of a batch. With `coerced` the values are already in their stored form, coerced
    against this schema by the caller: they are checked like any other but not coerced again.
    """
    item = ItemResult(index=index, id=record_input.id)
    values: dict[str, object] = {}
    if not isinstance(record_input.properties, Mapping):
        item.errors.add(
            "properties",
            "must be an object of property names and values",
            code=ValueCode.INVALID,
        )
        return PlannedWrite(item=item, values=values)
    if mode == "update" and record_input.id is None:
        item.errors.add("id", "is required to update a record", code=ValueCode.REQUIRED)
    check = (rules or PropertyRules(schema, actor, source)).check
    for name, raw in record_input.properties.items():
        spec, refusal = check(name)
        if refusal is not None:
            item.errors.add(name, refusal[0], code=refusal[1])
            continue
        if coerced:
            values[name] = raw
            continue
        try:
            values[name] = coerce_value(spec, raw)
        except InvalidValue as exc:
            item.errors.add(name, str(exc), code=ValueCode.INVALID)
    return PlannedWrite(item=item, values=values, carried=record_input.carried)


def check_id_property(schema: Schema, id_property: str) -> None:
    """Refuse an upsert key that is not a unique property of the object type."""
    prop = schema.properties.get(id_property)
    if prop is None:
        raise CrmError(f"unknown property {id_property!r} of {schema.object_type.name}")
    if not prop.unique:
        raise CrmError(f"{id_property!r} is not a unique property, so it cannot match records")


def _match_existing(
    schema: Schema,
    planned: list[PlannedWrite],
    inputs: Sequence[RecordInput],
    mode: Mode,
    id_property: str | None,
    locked_properties: Mapping[int, dict],
) -> None:
    """Find the records that updates and upserts refer to, locked for this transaction."""
    if mode == "create":
        return
    _match_by_id(schema, planned, inputs, locked_properties)
    if mode != "upsert" or id_property is None:
        return
    _match_by_key(schema, planned, inputs, id_property)


def _match_by_id(
    schema: Schema,
    planned: list[PlannedWrite],
    inputs: Sequence[RecordInput],
    locked_properties: Mapping[int, dict],
) -> None:
    """Match the inputs that name a record id to that active record, or refuse them."""
    object_type = schema.object_type
    by_id = [p for p in planned if inputs[p.item.index].id is not None]
    _flag_repeats(by_id, lambda p: inputs[p.item.index].id, "id")
    ids = {inputs[p.item.index].id for p in by_id if not p.item.errors}
    found = {pk: CurrentRecord(pk, locked_properties[pk]) for pk in ids if pk in locked_properties}
    unread = ids - found.keys()
    if unread:
        read = active_records_by_id(object_type, list(unread), lock=True)
        found.update((pk, CurrentRecord(pk, properties)) for pk, properties in read.items())
    for p in by_id:
        if p.item.errors:
            continue
        record = found.get(inputs[p.item.index].id)
        if record is None:
            p.item.errors.add(
                "id",
                f"no active {object_type.label_singular} with this id",
                code=ValueCode.NOT_FOUND,
            )
        else:
            p.existing = record


def _match_by_key(
    schema: Schema,
    planned: list[PlannedWrite],
    inputs: Sequence[RecordInput],
    id_property: str,
) -> None:
    """Match upsert inputs without an id to the active record holding their key value."""
    by_key = [p for p in planned if inputs[p.item.index].id is None and not p.item.errors]
    for p in by_key:
        if p.values.get(id_property) is None:
            p.item.errors.add(
                id_property,
                "is required to match records in an upsert",
                code=ValueCode.REQUIRED,
            )
    by_key = [p for p in by_key if not p.item.errors]
    _flag_repeats(by_key, lambda p: p.values[id_property], id_property)
    keys = [p.values[id_property] for p in by_key if not p.item.errors]
    lock_unique_values(schema)
    existing = records_by_unique_value(schema.object_type, id_property, keys)
    for p in by_key:
        if not p.item.errors:
            p.existing = existing.get(p.values[id_property])
            p.matched_on = id_property


def check_owner_values(
    schema: Schema, planned: Sequence[PlannedWrite], *, allow_inactive: bool = False
) -> None:
    """Refuse an owner value naming no active owner (no owner at all, with `allow_inactive`:
    a sync copying the remote's owner): one query for the whole batch.

    A record keeping the owner it has is left alone, so editing another property of a record
    whose owner has left (inactive) does not force a reassignment; so is an owner a merge
    carries over from a merged record (`carried`): it is that record's existing assignment,
    nothing is newly assigned. An id naming no owner at all is refused either way.
    """
    names = [n for n, p in schema.properties.items() if p.type == Property.Type.OWNER]
    if not names:
        return
    wanted = [
        (p, name)
        for p in planned
        for name in names
        if p.values.get(name) is not None
        and name not in p.item.errors
        and (p.existing is None or p.existing.properties.get(name) != p.values[name])
    ]
    if not wanted:
        return

    def may_be_inactive(p: PlannedWrite, name: str) -> bool:
        return allow_inactive or name in p.carried

    active = active_owner_ids(p.values[n] for p, n in wanted if not may_be_inactive(p, n))
    existing = existing_owner_ids(p.values[n] for p, n in wanted if may_be_inactive(p, n))
    for p, name in wanted:
        lenient = may_be_inactive(p, name)
        if p.values[name] not in (existing if lenient else active):
            refusal = unknown_owner_refusal if lenient else owner_refusal
            p.item.errors.add(name, refusal(p.values[name]), code=ValueCode.NO_OWNER)


def _check_unique_values(schema: Schema, planned: list[PlannedWrite]) -> None:
    """Refuse a value of a unique property that another active record (or input) holds."""
    names = [n for n in unique_names(schema) if any(p.values.get(n) is not None for p in planned)]
    if not names:
        return
    lock_unique_values(schema)
    for name in names:
        # Inputs with errors elsewhere are checked too, so a form shows every error at once.
        candidates = [
            p for p in planned if name not in p.item.errors and p.values.get(name) is not None
        ]
        _flag_repeats(candidates, lambda p, n=name: p.values[n], name)
        # A value a record keeps cannot collide, and an upsert key was looked up already.
        candidates = [
            p
            for p in candidates
            if name not in p.item.errors
            and p.matched_on != name
            and (p.existing is None or p.existing.properties.get(name) != p.values[name])
        ]
        holders = existing_unique_values(
            schema.object_type,
            name,
            [p.values[name] for p in candidates],
            exclude_ids=[p.existing.pk for p in candidates if p.existing is not None],
        )
        for p in candidates:
            holder = holders.get(p.values[name])
            if holder is not None and (p.existing is None or p.existing.pk != holder):
                p.item.errors.add(
                    name,
                    f"{p.values[name]!r} is already used by record {holder}",
                    code=ValueCode.DUPLICATE,
                )


def _flag_repeats(
    planned: list[PlannedWrite], key: Callable[[PlannedWrite], object], label: str
) -> None:
    """Refuse an input whose `key` value an earlier input of the batch already has."""
    seen: dict[object, int] = {}
    for p in planned:
        if label in p.item.errors:
            continue
        value = key(p)
        if value in seen:
            p.item.errors.add(
                label,
                f"{value!r} appears twice in this batch (also input {seen[value]})",
                code=ValueCode.REPEATED,
            )
        else:
            seen[value] = p.item.index
