"""The records' sync timeline, written by the stages: what each batch changed or failed to.

A stage collects one `Entry` per record it changed (field by field, old → new) or failed on,
and writes them with `write` in one COPY per batch (PostgreSQL), inside the batch's own
transaction. Entries are plain tuples, not model instances: a pull of 100,000 records makes
100,000 of them, and a Django model's constructor cost more than the COPY that writes them.
Records read again unchanged get no row: they stay the stage's skipped count. The rows go with
their stage when cycles are pruned (`cycles.prune_stages`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, NamedTuple

from django.utils import timezone

from crm.bulk_sql import insert_rows
from syncengine.models import SyncError, SyncStage, SyncTimelineEntry

if TYPE_CHECKING:
    from syncengine.engine.runner import CycleRunner

Direction = SyncTimelineEntry.Direction
Outcome = SyncTimelineEntry.Outcome


class Entry(NamedTuple):
    """One SyncTimelineEntry row to write."""

    stage_id: int
    integration_id: int
    record_id: int
    direction: str
    outcome: str
    changes: list[dict]
    error_id: int | None = None
    error_message: str = ""


def change(field: str, prop: str, old: object, new: object) -> dict:
    """One field's change: the remote field, its Concord property ("" for none), old, new."""
    return {"field": field, "property": prop, "old": old, "new": new}


def changed(
    run: CycleRunner,
    stage: SyncStage,
    direction: str,
    record_id: int,
    changes: list[dict],
    *,
    created: bool = False,
) -> Entry | None:
    """The entry of a record the stage changed; None when nothing changed (no row)."""
    if not changes:
        return None
    return Entry(
        stage.pk,
        run.integration.pk,
        record_id,
        direction,
        Outcome.CREATED if created else Outcome.UPDATED,
        changes,
    )


def failed(
    run: CycleRunner,
    stage: SyncStage,
    direction: str,
    record_id: int,
    errors: Iterable[SyncError],
) -> Entry:
    """The entry of a record the stage failed on, with the error(s) it recorded."""
    errors = list(errors)
    return Entry(
        stage.pk,
        run.integration.pk,
        record_id,
        direction,
        Outcome.FAILED,
        changes=[],
        error_id=errors[0].pk if errors else None,
        error_message="; ".join(e.message for e in errors)[:5000]
        or "The remote refused the record without saying why.",
    )


def property_changes(
    old_values: Mapping[str, object], new_values: Mapping[str, object], fields: Mapping[str, str]
) -> list[dict]:
    """Concord-side changes: the properties whose value differs, with their remote field."""
    return [
        change(fields.get(name, ""), name, old_values.get(name), new)
        for name, new in new_values.items()
        if old_values.get(name) != new
    ]


def write(run: CycleRunner, entries: Iterable[Entry | None]) -> None:
    """Write a batch's entries: one COPY on PostgreSQL (one row per record per stage).

    A record met twice by one stage (read again in a later batch) keeps the later outcome: its
    earlier row is deleted first, through the (stage, record) unique index. Stages are the
    run's own, so only a record the run wrote a row for can have one (a rolled-back batch's
    records are looked for in vain, which is harmless)."""
    if not run.timeline:
        return
    now = timezone.now()
    by_record: dict[tuple[int, int], Entry] = {}
    for entry in entries:
        if entry is not None:
            by_record[(entry.stage_id, entry.record_id)] = entry
    if not by_record:
        return
    by_stage: dict[int, list[int]] = {}
    for stage_id, record_id in by_record:
        by_stage.setdefault(stage_id, []).append(record_id)
    for stage_id, record_ids in by_stage.items():
        written = run.timeline_written.setdefault(stage_id, set())
        again = written.intersection(record_ids)
        if again:
            SyncTimelineEntry.objects.filter(stage_id=stage_id, record_id__in=again).delete()
        written.update(record_ids)
    insert_rows(
        SyncTimelineEntry,
        _COLUMNS,
        [
            (e.stage_id, e.integration_id, e.record_id, e.direction, e.outcome, now, e.changes,
             e.error_id, e.error_message)
            for e in by_record.values()
        ],
        json_columns={"changes"},
    )  # fmt: skip


_COLUMNS = (
    "stage_id",
    "integration_id",
    "record_id",
    "direction",
    "outcome",
    "at",
    "changes",
    "error_id",
    "error_message",
)
