"""Echo-free pulls: the next pull does not read back what Concord itself just wrote.

A record Concord writes names Concord's remote user as its last modifier. After each chunk of
writes the object mapping remembers when Concord last wrote (`own_writes_until`), and pulls
leave out the rows Concord's user last modified until then: Concord knows their values, and
re-reading them would cost calls for nothing (a 10,000-record push used to cost the next cycle
a page per 2,000 records). Anyone else's later edit names another user and is read as usual;
so is a change Concord's user makes after `own_writes_until`.

What is not re-read is what the remote's automation changed while acting as Concord's user in
the same write (a Salesforce flow, trigger or workflow field update). An object with such
automation sets `reread_own_writes`, and its pulls read Concord's writes back like any change.

`own_writes_until` is the remote's own clock when it answered the write (Salesforce's Date
header), so no clock of this machine is compared with the remote's stamps. A remote that
cannot tell who changed a record (Google) answers no time, and its pulls read everything.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from syncengine.connectors.base import OwnWrites
from syncengine.models import ObjectMapping

if TYPE_CHECKING:
    from syncengine.engine.runner import CycleRunner


def wrote(run: CycleRunner, om: ObjectMapping) -> None:
    """Concord has just written records of this object and saved what it wrote."""
    answered_at = run.connector.answered_at
    if answered_at is None or (om.own_writes_until and answered_at <= om.own_writes_until):
        return
    om.own_writes_until = answered_at
    ObjectMapping.objects.filter(pk=om.pk).update(own_writes_until=answered_at)


def to_skip(run: CycleRunner, om: ObjectMapping) -> OwnWrites | None:
    """Concord's own writes the pull of this object may leave out (None: read them all)."""
    user_id = run.integration.remote_user_id
    if om.reread_own_writes or not user_id or om.own_writes_until is None:
        return None
    return OwnWrites(user_id=user_id, until=om.own_writes_until)


def settled_watermark(om: ObjectMapping) -> dt.datetime | None:
    """The watermark after a complete pull that left Concord's own writes out.

    Every change until Concord's last write is known then: the others' were just read and
    Concord's own it made. So the watermark may move up to that write even when the pull read
    nothing newer, and the next pull does not ask again for the span of a long push."""
    until = om.own_writes_until if not om.reread_own_writes else None
    if until is None or (om.watermark is not None and om.watermark >= until):
        return om.watermark
    return until
