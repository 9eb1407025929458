"""Echo-free pulls: the next pull does not read back the records Concord just created.

A record Concord creates names Concord's remote user as its creator and last modifier. Each
object mapping keeps the spans in which Concord created records (`own_writes`: from the remote's
clock before the first create of a push stage to its answer to Concord's last write), and pulls
leave out the records Concord's user created in such a span and last changed within it: Concord
knows their values, and re-reading them cost a page per 2,000 records (a 10,000-record push cost
the next cycle five). Anyone else's later edit names another user and is read; so is any change
after the span's end, and every record that existed before the span, however Concord changed it:
an edit someone makes between Concord's pull and its update of that record is never skipped.
Stamps are whole seconds, so spans never share one: a span starts a second after the previous
one ends at the earliest, and Concord's update or delete of an existing record ends every span
reaching that second a second earlier.

What is skipped is what the remote's automation changed while acting as Concord's user in the
create itself (a Salesforce flow, trigger or workflow field update), and an edit someone makes
to a record in the seconds between Concord creating it and Concord writing its references. An
object with such automation sets `reread_own_writes`, and its pulls read everything back.

Times are the remote's own clock (Salesforce's Date header, whole seconds): no clock of this
machine is compared with the remote's stamps. A remote that cannot tell who changed a record
(Google) answers no time, keeps no spans, and its pulls read everything.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from syncengine.connectors.base import OwnWrites
from syncengine.models import ObjectMapping

if TYPE_CHECKING:
    from syncengine.engine.runner import CycleRunner

# Spans a pull can still reach: those ending after the watermark minus this (the pull overlap).
REACH = dt.timedelta(minutes=2)
MAX_SPANS = 10  # more (cycles creating records seconds apart) and the oldest are read back


def creating(run: CycleRunner, om: ObjectMapping) -> None:
    """A stage is about to create records of this object: note the remote's clock (its last
    answer, before any of them exists).

    The span starts a second after the previous one ends at the earliest: a record created in
    that second belongs to the previous span alone, and a later write to it (`overwrote`) is
    never covered by this one."""
    answered_at = run.connector.answered_at
    spans = _spans(om)
    if answered_at is not None and spans:
        answered_at = max(answered_at, spans[-1][1] + dt.timedelta(seconds=1))
    run.created_from[om.pk] = answered_at


def created(run: CycleRunner, om: ObjectMapping) -> None:
    """Concord has created records of this object and saved what it wrote: they open this
    cycle's span, or widen it. (Created in the second the previous span ends, they are its.)"""
    _widen(run, om, open_span=True)


def wrote_references(run: CycleRunner, om: ObjectMapping) -> None:
    """Concord has written references (those of the records it just created, and of older
    records whose references waited). In a cycle that created records of this object, the
    span's end moves: the older records were created before its start, so it never covers
    them. Otherwise (no span of this cycle, or an overwrite cut it away) every write was to an
    existing record, and its records are read back."""
    spans = _spans(om)
    if spans and spans[-1][0] == run.created_from.get(om.pk):
        _widen(run, om, open_span=False)
    else:
        overwrote(run, om)


def overwrote(run: CycleRunner, om: ObjectMapping) -> None:
    """Concord has updated or deleted records that existed before this cycle.

    Their next pull reads them (as it reads anyone's edit), but only if no span covers the
    second of this write: an edit someone made just before it, or an undelete right after,
    names Concord's user as last modifier with a stamp of that second. Spans ending in or
    after that second end a second earlier; one left empty is dropped."""
    answered_at = run.connector.answered_at
    spans = _spans(om)
    if answered_at is None or not spans or spans[-1][1] < answered_at:
        return
    cut = answered_at - dt.timedelta(seconds=1)
    clipped = [(start, min(end, cut)) for start, end in spans]
    _save(om, [(start, end) for start, end in clipped if end >= start])


def _widen(run: CycleRunner, om: ObjectMapping, *, open_span: bool) -> None:
    created_from = run.created_from.get(om.pk)
    answered_at = run.connector.answered_at
    if created_from is None or answered_at is None:
        return
    spans = _spans(om)
    if spans and spans[-1][0] == created_from:
        spans[-1] = (created_from, max(answered_at, spans[-1][1]))
    elif open_span and answered_at >= created_from:
        spans.append((created_from, answered_at))
    else:
        return
    if om.watermark is not None:
        spans = [span for span in spans if span[1] >= om.watermark - REACH]
    _save(om, spans[-MAX_SPANS:])


def _save(om: ObjectMapping, spans: list[tuple[dt.datetime, dt.datetime]]) -> None:
    om.own_writes = [[start.isoformat(), end.isoformat()] for start, end in spans]
    ObjectMapping.objects.filter(pk=om.pk).update(own_writes=om.own_writes)


def to_skip(run: CycleRunner, om: ObjectMapping) -> OwnWrites | None:
    """The records Concord created that the pull of this object may leave out (None: none)."""
    user_id = run.integration.remote_user_id
    spans = _spans(om)
    if om.reread_own_writes or not user_id or not spans:
        return None
    return OwnWrites(user_id=user_id, spans=tuple(spans))


def settled_watermark(om: ObjectMapping) -> dt.datetime | None:
    """The watermark after a complete pull that left Concord's creates out.

    Every change until the end of the latest span is known then: the others' were just read,
    and the records left out Concord made. So the watermark may move up to it even when the
    pull read nothing newer, and the next pull does not ask again for a long push's span."""
    spans = _spans(om)
    if om.reread_own_writes or not spans:
        return om.watermark
    end = spans[-1][1]
    return om.watermark if om.watermark is not None and om.watermark >= end else end


def _spans(om: ObjectMapping) -> list[tuple[dt.datetime, dt.datetime]]:
    return [(dt.datetime.fromisoformat(a), dt.datetime.fromisoformat(b)) for a, b in om.own_writes]
