"""Echo-free pulls: the next pull does not read back the records Concord just created.

A record Concord creates names Concord's remote user as its creator and last modifier. Each
object mapping keeps the spans in which Concord created records (`own_writes`: from the remote's
clock before the first create of a push stage to its answer to Concord's last write), and pulls
leave out the records Concord's user created in such a span and last changed within it: Concord
knows their values, and re-reading them cost a page per 2,000 records (a 10,000-record push cost
the next cycle five). Anyone else's later edit names another user and is read; so is any change
after the span's end, and every record that existed before the span, however Concord changed it:
an edit someone makes between Concord's pull and its update of that record is never skipped.

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
    answer, before any of them exists)."""
    run.created_from[om.pk] = run.connector.answered_at


def wrote(run: CycleRunner, om: ObjectMapping, *, created: bool) -> None:
    """Concord has written records of this object and saved what it wrote.

    Records created open this cycle's span (or widen it); other writes of the cycle (the
    references of the records it just created) move its end. Writes to records that existed
    before (updates) open nothing: their next pull reads them, as it reads anyone's edit."""
    created_from = run.created_from.get(om.pk)
    answered_at = run.connector.answered_at
    if created_from is None or answered_at is None:
        return
    spans = _spans(om)
    if spans and spans[-1][0] == created_from:
        spans[-1] = (created_from, max(answered_at, spans[-1][1]))
    elif created:
        spans.append((created_from, answered_at))
    else:
        return  # this cycle created nothing of this object
    if om.watermark is not None:
        spans = [span for span in spans if span[1] >= om.watermark - REACH]
    om.own_writes = [[start.isoformat(), end.isoformat()] for start, end in spans[-MAX_SPANS:]]
    ObjectMapping.objects.filter(pk=om.pk).update(own_writes=om.own_writes)


def deleted(run: CycleRunner, om: ObjectMapping) -> None:
    """Concord has deleted records of this object. A deleted record undeleted within the same
    second keeps Concord's user as its last modifier and a stamp of that second: the latest
    span ends a second earlier, so no record changed in that second is left out."""
    answered_at = run.connector.answered_at
    spans = _spans(om)
    if answered_at is None or not spans or spans[-1][1] < answered_at:
        return
    start, _ = spans[-1]
    end = answered_at - dt.timedelta(seconds=1)
    spans[-1:] = [(start, end)] if end >= start else []
    om.own_writes = [[a.isoformat(), b.isoformat()] for a, b in spans]
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
