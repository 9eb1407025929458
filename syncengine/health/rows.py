"""Sync errors as the health page, the API and the export show them: named records, the
affected record apart from the blocking one, a link into the remote's UI, and for a record
waiting on an association the cause chain ("Deal X waits for Company Y, which has a
Picklists error").

`error_rows` loads what a page of errors names in a fixed number of queries, whatever the
number of rows: the first affected record of each association error, their remote links,
and the blocking records' own errors.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db.models import Min
from django.urls import reverse
from django.utils.http import urlencode

from crm.models import Record
from syncengine.codes import SyncErrorCode
from syncengine.health.texts import count_of, details_text, record_name
from syncengine.models import Integration, RecordLink, SyncError, SyncErrorAffectedRecord
from syncengine.remote_links import remote_record_url, remote_system_name

CURRENT = (SyncError.Status.OPEN, SyncError.Status.RESYNCING)
SALESFORCE_ID = re.compile(r"\b([a-zA-Z0-9]{15}|[a-zA-Z0-9]{18})\b")


def blocks_others(error: SyncError) -> bool:
    """An association error whose record is the blocking one: records associated with it
    wait until it is in the remote (its affected records are those waiting)."""
    return (
        error.code == SyncErrorCode.ASSOCIATED_RECORD_NOT_SYNCED
        and error.direction == SyncError.Direction.PUSH
        and error.record_id is not None
    )


@dataclass
class PageNames:
    """What a page of errors names beyond their own rows, loaded once for the page."""

    first_affected: dict[int, Record] = field(default_factory=dict)  # error id → record
    # (integration id, record id) → the record's remote object and id in that integration
    remote_of: dict[tuple[int, int], tuple[str, str]] = field(default_factory=dict)
    own_error: dict[int, SyncError] = field(default_factory=dict)  # blocking record id → error
    waits_on: dict[int, SyncError] = field(default_factory=dict)  # blocking record id → error


def _load_names(errors: Sequence[SyncError]) -> PageNames:
    names = PageNames()
    blocking = [e for e in errors if blocks_others(e)]
    if not blocking:
        return names
    firsts = dict(
        SyncErrorAffectedRecord.objects.filter(error_id__in=[e.pk for e in blocking])
        .values("error_id")
        .annotate(first=Min("record_id"))
        .values_list("error_id", "first")
        .order_by()
    )
    records = Record.objects.select_related("object_type").in_bulk(set(firsts.values()))
    names.first_affected = {e: records[r] for e, r in firsts.items() if r in records}
    names.remote_of = {
        (integration_id, record_id): (remote_object, remote_id)
        for integration_id, record_id, remote_object, remote_id in RecordLink.objects.filter(
            integration_id__in={e.integration_id for e in blocking},
            record_id__in=list(records),
            remote_id__isnull=False,
        ).values_list("integration_id", "record_id", "object_mapping__remote_object", "remote_id")
    }
    blockers = {e.record_id for e in blocking}
    # The blocking records' own problems (not the "it blocks others" rows), newest first.
    own = (
        SyncError.objects.filter(record_id__in=blockers, status__in=CURRENT)
        .exclude(code=SyncErrorCode.ASSOCIATED_RECORD_NOT_SYNCED, direction="push")
        .select_related("record__object_type")
        .order_by("-last_seen_at", "-pk")
    )
    for error in own:
        names.own_error.setdefault(error.record_id, error)
    rest = blockers - set(names.own_error)
    if rest:
        # A blocker with no error of its own may itself wait on another record.
        waiting = (
            SyncErrorAffectedRecord.objects.filter(
                record_id__in=rest,
                error__status__in=CURRENT,
                error__code=SyncErrorCode.ASSOCIATED_RECORD_NOT_SYNCED,
                error__direction=SyncError.Direction.PUSH,
            )
            .select_related("error__record__object_type")
            .order_by("-error__last_seen_at", "-error_id")
        )
        for row in waiting:
            names.waits_on.setdefault(row.record_id, row.error)
    return names


def duplicate_of(error: SyncError) -> dict:
    """The duplicated value and the other remote record, as far as the remote said."""
    details = error.details or {}
    value = details.get("value")
    if value is None and error.record is not None and error.property_name:
        value = (error.record.properties or {}).get(error.property_name)
    other = details.get("duplicate_id") or ""
    if not other and "id:" in error.message:  # "duplicates value on record with id: 001…"
        match = SALESFORCE_ID.search(error.message.split("id:")[-1])
        other = match.group(1) if match else ""
    return {"value": value, "remote_id": other}


def error_link(error: SyncError) -> str:
    """The health page listing this error (its type, its record) scrolled to its row."""
    base = reverse("admin:syncengine_integration_health", args=[error.integration_id])
    query = {"type": error.category}
    if error.record_id:
        query["record"] = error.record_id
    return f"{base}?{urlencode(query)}#error-{error.pk}"


def _cause(error: SyncError, names: PageNames, system: str) -> tuple[str, dict | None]:
    """Why the blocking record is not in the remote: the end of the sentence, and the link."""
    blocker = record_name(error.record)
    own = names.own_error.get(error.record_id)
    if own is not None:
        label = own.get_category_display()
        return f"which has a {label} error", {
            "label": f"{label} error of {blocker}",
            "url": error_link(own),
            "error": own.pk,
        }
    waiting = names.waits_on.get(error.record_id)
    if waiting is not None:
        further = record_name(waiting.record)
        return f"which waits for {further}", {
            "label": f"Why {further} is not in {system}",
            "url": error_link(waiting),
            "error": waiting.pk,
        }
    return f"which is not in {system} yet (it is sent with the next push)", None


def _blocked_row(row: dict, error: SyncError, names: PageNames, system: str) -> None:
    """An association error: the waiting (affected) record leads, the blocking one apart."""
    affected = names.first_affected.get(error.pk)
    blocker = record_name(error.record)
    row["blocking_record"] = error.record_id
    row["blocking_record_label"] = blocker
    row["blocking_record_admin_url"] = row["record_admin_url"]
    row["affected_record"] = affected.pk if affected else None
    row["affected_record_label"] = record_name(affected)
    row["affected_record_admin_url"] = (
        reverse("admin:crm_record_change", args=[affected.pk]) if affected else ""
    )
    if affected is not None:  # the record the list leads with: the one that did not sync
        row["listed_record"] = affected.pk
        row["listed_record_label"] = row["affected_record_label"]
        row["listed_record_admin_url"] = row["affected_record_admin_url"]
    ending, cause = _cause(error, names, system)
    if affected is None:
        row["summary"] = f"Records associated with {blocker} wait for it, {ending}."
    else:
        others = (row["affected_records"] or 1) - 1
        more = f" (and {count_of(others, 'other record', 'other records')})" if others > 0 else ""
        row["summary"] = f"{record_name(affected)}{more} waits for {blocker}, {ending}."
        remote_object, remote_id = names.remote_of.get(
            (error.integration_id, affected.pk), ("", "")
        )
        row["remote_label"] = f"{remote_object} {remote_id}".strip()
        row["remote_url"] = remote_record_url(
            integration=error.integration, remote_object=remote_object, remote_id=remote_id
        )
        row["remote_note"] = "" if remote_id else f"not in {system} yet"
    row["cause"] = cause


def error_row(error: SyncError, names: PageNames) -> dict:
    """One error's row, with what its page loaded (`PageNames`); no queries."""
    integration: Integration = error.integration
    system = remote_system_name(integration)
    record = error.record
    row = {
        "id": error.pk,
        "type": error.category,
        "label": error.get_category_display(),
        "status": error.status,
        "status_label": error.get_status_display(),
        "code": error.code,
        "message": error.message,
        "summary": error.message,
        "direction": error.direction,
        "record": record.pk if record else None,
        "record_label": record_name(record),
        "record_type": record.object_type.name if record else "",
        "record_admin_url": reverse("admin:crm_record_change", args=[record.pk]) if record else "",
        "remote_system": system,
        "remote_object": error.remote_object,
        "remote_id": error.remote_id,
        "remote_label": f"{error.remote_object} {error.remote_id}".strip()
        if error.remote_id
        else "",
        "remote_url": remote_record_url(
            integration=integration, remote_object=error.remote_object, remote_id=error.remote_id
        ),
        "remote_note": f"not in {system} yet"
        if record and not error.remote_id and error.direction == SyncError.Direction.PUSH
        else "",
        "remote_field": error.remote_field,
        "property": error.property_name,
        "details": error.details,
        "details_text": details_text(error.details, code=error.code),
        "first_seen": error.first_seen_at,
        "last_seen": error.last_seen_at,
        "occurrences": error.occurrences,
        "affected_records": getattr(error, "affected_count", None),
        "cause": None,
    }
    # The record a list row leads with (an association error's waiting record, below).
    row["listed_record"] = row["record"]
    row["listed_record_label"] = row["record_label"]
    row["listed_record_admin_url"] = row["record_admin_url"]
    if error.category == SyncError.Category.DUPLICATES:
        dup = duplicate_of(error)
        row["duplicate_value"] = dup["value"]
        row["duplicate_remote_id"] = dup["remote_id"]
        row["duplicate_remote_url"] = remote_record_url(
            integration=integration, remote_object=error.remote_object, remote_id=dup["remote_id"]
        )
    if error.category == SyncError.Category.ASSOCIATIONS:
        row["blocking_record"] = row["record"]
        if blocks_others(error):
            _blocked_row(row, error, names, system)
    return row


def error_rows(errors: Sequence[SyncError]) -> list[dict]:
    """The rows of a page of errors (joined with their record, its type and the integration),
    named and linked, in a fixed number of queries."""
    names = _load_names(errors)
    return [error_row(error, names) for error in errors]
