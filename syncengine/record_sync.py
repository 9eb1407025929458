"""Reads of one record's sync card: per integration its remote twin, when it was last pulled
and pushed, its open errors, what it blocks and what blocks it; its associations both ways;
and its sync timeline (what each pull and push changed, and each failure).

`get_record_sync_card` answers with a fixed number of queries whatever the number of
integrations, errors or timeline rows (each list is one query, bounded by `limit`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Max
from django.urls import reverse

from crm.models import Association, Property, Record
from crm.owners import owner_names, show_owner
from crm.schema import Schema, load_schema
from syncengine.codes import SyncErrorCode
from syncengine.connectors.registry import connector_class
from syncengine.models import (
    Integration,
    ObjectMapping,
    RecordLink,
    SyncError,
    SyncErrorAffectedRecord,
    SyncTimelineEntry,
)

TIMELINE_LIMIT = 50  # rows shown unless asked for more
MAX_TIMELINE_LIMIT = 500
LIST_LIMIT = 100  # errors, blocked and blocking records, associations: the newest this many
CURRENT = (SyncError.Status.OPEN, SyncError.Status.RESYNCING)
# The error the push records on the associated record that is not in the remote yet (the
# blocker), naming the records waiting for it as its affected records.
BLOCKING_ERROR = {
    "error__code": SyncErrorCode.ASSOCIATED_RECORD_NOT_SYNCED,
    "error__direction": SyncError.Direction.PUSH,
    "error__status__in": CURRENT,
}


@dataclass(frozen=True, slots=True)
class RecordRef:
    """Another record, named as people read it, with its admin page."""

    id: int
    name: str
    object_type: str  # the object type's name (the API path's)
    object_label: str
    admin_url: str

    @classmethod
    def of(cls, record: Record) -> RecordRef:
        return cls(
            id=record.pk,
            name=str(record),
            object_type=record.object_type.name,
            object_label=record.object_type.label_singular,
            admin_url=reverse("admin:crm_record_change", args=[record.pk]),
        )


@dataclass(frozen=True, slots=True)
class Blocking:
    """A record waiting on another because of an association, and the error saying so."""

    record: RecordRef
    error_id: int
    message: str


@dataclass(slots=True)
class IntegrationSync:
    """The record in one integration."""

    integration_id: int
    integration_name: str
    kind: str
    remote_object: str = ""
    remote_id: str = ""
    remote_url: str = ""
    linked: bool = False
    dormant: bool = False  # outside the remote-side filter: nothing syncs
    remote_deleted_at: dt.datetime | None = None
    synced_at: dt.datetime | None = None
    last_pulled_at: dt.datetime | None = None  # the last pull that changed it
    last_pushed_at: dt.datetime | None = None  # the last push that changed the remote twin
    open_errors: list[SyncError] = field(default_factory=list)
    blocks: list[Blocking] = field(default_factory=list)  # records waiting for this one
    blocked_by: list[Blocking] = field(default_factory=list)  # records this one waits for


@dataclass(frozen=True, slots=True)
class AssociationItem:
    label: str  # the association definition, e.g. "companies → contacts (Primary)"
    record: RecordRef


@dataclass(frozen=True, slots=True)
class TimelineItem:
    id: int
    at: dt.datetime
    integration_id: int
    integration_name: str
    direction: str
    direction_label: str
    outcome: str
    outcome_label: str
    stage_id: int
    stage_label: str  # the operation, e.g. "Pull updates"
    stage_status: str
    cycle_id: int
    # [{"field", "property", "old", "new", "hidden"}]; hidden: the viewer may not see values
    changes: list[dict]
    error_id: int | None
    error_message: str


@dataclass(slots=True)
class RecordSyncCard:
    record: Record
    integrations: list[IntegrationSync]
    outgoing: list[AssociationItem]
    incoming: list[AssociationItem]
    timeline: list[TimelineItem]
    errors_visible: bool  # False: the user may not read sync errors (none are listed)


def get_record_sync_card(
    *, record: Record, user=None, limit: int = TIMELINE_LIMIT
) -> RecordSyncCard:
    """The sync card of a record as `user` may see it: values of properties hidden from the
    user are left out of the timeline's changes, and sync errors (their texts, what they block)
    are listed only to users who may read sync errors. `None` is Concord itself."""
    errors_visible = user is None or user.has_perm("syncengine.view_syncerror")
    by_integration = _integrations(record)
    _add_last_changes(record, by_integration)
    if errors_visible:
        _add_errors(record, by_integration)
        _add_blocking(record, by_integration)
    outgoing, incoming = _associations(record)
    schema = load_schema(record.object_type)
    return RecordSyncCard(
        record=record,
        integrations=list(by_integration.values()),
        outgoing=outgoing,
        incoming=incoming,
        timeline=_timeline(record, schema, user, limit, errors_visible),
        errors_visible=errors_visible,
    )


def _integrations(record: Record) -> dict[int, IntegrationSync]:
    """The integrations that sync the record's object type, and those it is linked in."""
    rows: dict[int, IntegrationSync] = {}
    mapped = (
        ObjectMapping.objects.filter(object_type_id=record.object_type_id, enabled=True)
        .select_related("integration")
        .order_by("integration__name", "integration_id")
    )
    for om in mapped:
        rows.setdefault(om.integration_id, _blank(om.integration))
    links = RecordLink.objects.filter(record=record).select_related("integration")
    for link in links.order_by("integration__name", "integration_id"):
        row = rows.setdefault(link.integration_id, _blank(link.integration))
        row.linked = True
        row.remote_object, row.remote_id = link.remote_object, link.remote_id or ""
        row.dormant, row.remote_deleted_at = link.dormant, link.remote_deleted_at
        row.synced_at = link.synced_at
        if link.remote_id and link.remote_deleted_at is None:
            row.remote_url = _remote_url(link.integration, link.remote_object, link.remote_id)
    return rows


def _blank(integration: Integration) -> IntegrationSync:
    return IntegrationSync(
        integration_id=integration.pk,
        integration_name=integration.name,
        kind=integration.get_kind_display(),
    )


def _remote_url(integration: Integration, remote_object: str, remote_id: str) -> str:
    try:
        remote = connector_class(integration.kind)
    except LookupError:
        return ""
    return remote.record_url(
        endpoint=integration.instance_url, remote_object=remote_object, remote_id=remote_id
    )


def _add_last_changes(record: Record, rows: dict[int, IntegrationSync]) -> None:
    last = (
        SyncTimelineEntry.objects.filter(record=record)
        .exclude(outcome=SyncTimelineEntry.Outcome.FAILED)
        .values("integration_id", "direction")
        .annotate(last=Max("at"))
        .order_by()
    )
    for item in last:
        row = rows.get(item["integration_id"])
        if row is None:
            continue
        if item["direction"] == SyncTimelineEntry.Direction.PULL:
            row.last_pulled_at = item["last"]
        else:
            row.last_pushed_at = item["last"]


def _add_errors(record: Record, rows: dict[int, IntegrationSync]) -> None:
    errors = SyncError.objects.filter(record=record, status__in=CURRENT).order_by(
        "-last_seen_at", "-pk"
    )[:LIST_LIMIT]
    for error in errors:
        row = rows.get(error.integration_id)
        if row is not None:
            row.open_errors.append(error)


def _add_blocking(record: Record, rows: dict[int, IntegrationSync]) -> None:
    blocks = (
        SyncErrorAffectedRecord.objects.filter(error__record=record, **BLOCKING_ERROR)
        .exclude(record=record)
        .select_related("error", "record__object_type")
        .order_by("-error__last_seen_at", "-pk")[:LIST_LIMIT]
    )
    for item in blocks:
        row = rows.get(item.error.integration_id)
        if row is not None:
            blocked = RecordRef.of(item.record)
            row.blocks.append(Blocking(blocked, item.error_id, item.error.message))
    blocked_by = (
        SyncErrorAffectedRecord.objects.filter(
            record=record, error__record__isnull=False, **BLOCKING_ERROR
        )
        .exclude(error__record=record)
        .select_related("error__record__object_type")
        .order_by("-error__last_seen_at", "-pk")[:LIST_LIMIT]
    )
    for item in blocked_by:
        row = rows.get(item.error.integration_id)
        if row is not None:
            row.blocked_by.append(
                Blocking(RecordRef.of(item.error.record), item.error_id, item.error.message)
            )


def _associations(record: Record) -> tuple[list[AssociationItem], list[AssociationItem]]:
    related = ("definition__from_object_type", "definition__to_object_type")
    outgoing = (
        Association.objects.filter(from_record=record, to_record__archived_at__isnull=True)
        .select_related(*related, "to_record__object_type")
        .order_by("definition_id", "pk")[:LIST_LIMIT]
    )
    incoming = (
        Association.objects.filter(to_record=record, from_record__archived_at__isnull=True)
        .select_related(*related, "from_record__object_type")
        .order_by("definition_id", "pk")[:LIST_LIMIT]
    )
    return (
        [AssociationItem(str(a.definition), RecordRef.of(a.to_record)) for a in outgoing],
        [AssociationItem(str(a.definition), RecordRef.of(a.from_record)) for a in incoming],
    )


def _timeline(
    record: Record, schema: Schema, user, limit: int, errors_visible: bool
) -> list[TimelineItem]:
    entries = (
        SyncTimelineEntry.objects.filter(record=record)
        .select_related("stage", "integration")
        .order_by("-at", "-pk")[:limit]
    )
    entries = list(entries)
    names = _owner_names(entries, schema)
    return [
        TimelineItem(
            id=entry.pk,
            at=entry.at,
            integration_id=entry.integration_id,
            integration_name=entry.integration.name,
            direction=entry.direction,
            direction_label=entry.get_direction_display(),
            outcome=entry.outcome,
            outcome_label=entry.get_outcome_display(),
            stage_id=entry.stage_id,
            stage_label=entry.stage.get_operation_display(),
            stage_status=entry.stage.status,
            cycle_id=entry.stage.cycle_id,
            changes=[_visible(change, schema, user, names) for change in entry.changes],
            error_id=entry.error_id if errors_visible else None,
            error_message=entry.error_message if errors_visible else "",
        )
        for entry in entries
    ]


def _owner_names(entries: list, schema: Schema) -> dict[int, str]:
    """The names of the owners the entries' owner values name: one query for the timeline."""
    owner_props = {n for n, p in schema.properties.items() if p.type == Property.Type.OWNER}
    ids = [
        change.get(side)
        for entry in entries
        for change in entry.changes
        if change.get("property") in owner_props
        for side in ("old", "new")
    ]
    return owner_names(ids) if owner_props else {}


def _visible(change: dict, schema: Schema, user, owners: dict[int, str]) -> dict:
    """A change as the user may see it: values of a property hidden from them (or deleted
    since, so its restrictions are unknown) are left out."""
    prop = change.get("property") or ""
    hidden = bool(prop) and (prop not in schema.properties or not schema.can_view(user, prop))
    definition = schema.properties.get(prop)
    old, new = (None, None) if hidden else (change.get("old"), change.get("new"))
    return {
        "field": change.get("field", ""),
        "property": prop,
        "label": definition.label if definition else "",
        "old": old,
        "new": new,
        "old_text": _text(old, definition, owners),
        "new_text": _text(new, definition, owners),
        "hidden": hidden,
    }


def _text(value: object, definition, owners: dict[int, str]) -> str:
    """A value as people read it: option labels for option values, owners' names, lists
    joined, "(empty)"."""
    if value is None or value == "" or value == []:
        return "(empty)"
    if definition is not None and definition.type == Property.Type.OWNER:
        return show_owner(value, owners)
    if isinstance(value, bool):
        return "Yes" if value else "No"
    # The schema's options were loaded with it (load_schema prefetches them): no query.
    labels = {o.value: o.label for o in definition.options.all()} if definition else {}
    if isinstance(value, list):
        return ", ".join(labels.get(str(v), str(v)) for v in value)
    return labels.get(str(value), str(value))
