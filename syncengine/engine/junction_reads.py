"""The remote side of junction records (contact roles), read incrementally.

Each parent's link keeps, beside the pairs both sides agreed on, a mirror of the junction
records the remote holds for it: under agreed["<junction>@remote"] as {junction id: child
remote id}. A cycle reads only what changed since the reference mapping's junction watermark
(deleted records flagged, in the same read) and applies it to the mirrors; a parent without a
mirror yet (a deal linked since) has its records read once by parent id; without a watermark
everything is read, as before. The watermark is the remote's clock at the read (stamps are
whole seconds and commits land late: the next read starts the engine's usual overlap before
it). Pairs the engine cannot settle yet (a contact not synced) stay in
the mirror, so they are settled later without being read again.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from syncengine.connectors.base import JunctionRow
from syncengine.engine import pull
from syncengine.models import RecordLink, ReferenceMapping

if TYPE_CHECKING:
    from syncengine.engine.runner import CycleRunner


def mirror_key(ref: ReferenceMapping) -> str:
    """Where a parent link's agreed values keep the remote's junction records."""
    return f"{ref.remote_field}@remote"


def read_remote(
    run: CycleRunner, ref: ReferenceMapping, parents: dict[str, RecordLink]
) -> tuple[dict[str, dict[str, str]], dt.datetime | None]:
    """The junction records the remote holds per parent ({junction id: child id}) and the new
    watermark: the newest stamp read (the old one when nothing changed)."""
    key = mirror_key(ref)
    watermark = ref.junction_watermark
    if watermark is None:
        mirrors: dict[str, dict[str, str]] = {p: {} for p in parents}
        newest = _apply(mirrors, run.connector.read_junctions(ref.remote_field), None)
        return mirrors, _later(newest, run.connector.read_at)
    mirrors = {p: dict(link.agreed.get(key) or {}) for p, link in parents.items()}
    fresh = [p for p, link in parents.items() if key not in link.agreed]
    if fresh:
        # Their records may be older than the watermark: read once by parent (not a stamp
        # source: the rest of the object was not read).
        _apply(mirrors, run.connector.read_junctions(ref.remote_field, parent_ids=fresh), None)
    # Whole-second stamps and late commits: the engine's usual overlap, re-read as no-ops.
    since = watermark - pull.OVERLAP
    changed = run.connector.read_junctions(ref.remote_field, since=since)
    newest = _apply(mirrors, changed, watermark)
    return mirrors, _later(newest, run.connector.read_at)


def _later(newest: dt.datetime | None, read_at: dt.datetime | None) -> dt.datetime | None:
    """The watermark after a read: the remote's clock when it answered, when known (so a
    cycle after a quiet spell reads nothing), never before the newest stamp read."""
    if read_at is None or (newest is not None and newest > read_at):
        return newest
    return read_at


def _apply(
    mirrors: dict[str, dict[str, str]], rows, newest: dt.datetime | None
) -> dt.datetime | None:
    """Apply read junction records to the mirrors; the newest stamp seen."""
    where = {jid: parent for parent, held in mirrors.items() for jid in held}
    for row in rows:
        row: JunctionRow
        if row.stamp is not None and (newest is None or row.stamp > newest):
            newest = row.stamp
        # A record may have moved (its child changed) or gone: forget where it was first.
        old_parent = where.pop(row.remote_id, None)
        if old_parent is not None:
            mirrors[old_parent].pop(row.remote_id, None)
        if not row.deleted and row.parent_id in mirrors:
            mirrors[row.parent_id][row.remote_id] = row.child_id
            where[row.remote_id] = row.parent_id
    return newest


def pairs_of(mirror: dict[str, str]) -> dict[str, str]:
    """{child id: junction id} of one parent: the first record per child, as a full read
    would order them (by id)."""
    pairs: dict[str, str] = {}
    for jid in sorted(mirror):
        pairs.setdefault(mirror[jid], jid)
    return pairs
