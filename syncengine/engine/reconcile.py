"""The Reconcile stage: remote deletes that incremental pulls cannot see.

Pull deletes sees what the remote reports as deleted (Salesforce's recycle bin through queryAll,
Google's tombstones). Records purged from the recycle bin, or deleted while a Google sync token
was expired, leave no such trace. Each cycle this stage reads the remote's delete log where it
has one (Salesforce getDeleted, which still lists purged records for 15 days); when that log
does not cover the time since it was last read, or once every CONCORD_RECONCILE_HOURS, it lists
every live remote id (a Bulk API 2.0 id query: a few calls per 100,000 records) and compares
them with the linked ids in the database (a temporary table and an anti-join, no Python loop
over the records). Ids linked but gone remotely go through the pull delete path.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import connection
from django.utils import timezone

from syncengine.engine import pull
from syncengine.models import ObjectMapping, RecordLink, SyncStage

if TYPE_CHECKING:
    from syncengine.engine.runner import CycleRunner

COPY_CHUNK = 50_000
_TABLE = "concord_reconcile_ids"


def interval() -> dt.timedelta:
    """How long an id comparison holds before the next one is due."""
    return dt.timedelta(hours=settings.CONCORD_RECONCILE_HOURS)


def reconcile(run: CycleRunner, om: ObjectMapping) -> None:
    """Find the linked records deleted remotely that no pull reported, and apply the deletes."""
    with run.stage(SyncStage.Operation.RECONCILE, om) as stage:
        started, now = time.monotonic(), timezone.now()
        if om.reconciled_at is None:
            # The first pull has just linked what exists: the clocks start now.
            om.reconciled_at = om.delete_log_until = now
            ObjectMapping.objects.filter(pk=om.pk).update(reconciled_at=now, delete_log_until=now)
            stage.message = "First reconciliation: deletes are looked for from now on."
            return
        log = run.connector.read_delete_log(om.remote_object, om.delete_log_until)
        due = now - om.reconciled_at >= interval()
        compare = due or not log.complete
        missing: list[str] = []
        listed = 0
        if compare:
            missing, listed = _compare(run, om, now)
        # No live record at all while Concord links some is what a lost read access looks like
        # (a real mass delete shows in the delete log): nothing is archived on that evidence.
        empty_listing = compare and listed == 0 and bool(missing)
        if empty_listing:
            missing = []
        # One call with every candidate of the stage (the mass-delete guard weighs them all).
        found = _apply(run, om, list(dict.fromkeys([*log.ids, *missing])), stage)
        if compare:
            om.reconciled_at = now
        if log.until is not None:
            om.delete_log_until = log.until
        ObjectMapping.objects.filter(pk=om.pk).update(
            reconciled_at=om.reconciled_at, delete_log_until=om.delete_log_until
        )
        why = "due" if due else "delete log incomplete"
        stage.message = (
            f"{found} deleted remotely found: {len(log.ids)} in the delete log"
            + (f", {len(missing)} missing from {listed} remote ids ({why})" if compare else "")
            + f"; {time.monotonic() - started:.1f} s"
            + (
                ". The remote listed no records at all: none archived on that alone (check the"
                " integration user's access to this object)."
                if empty_listing
                else ""
            )
        )


def _compare(run: CycleRunner, om: ObjectMapping, now: dt.datetime) -> tuple[list[str], int]:
    """(ids linked before `now` but not listed remotely, how many remote ids were listed)."""
    ids = run.connector.list_remote_ids(om.remote_object)
    # Outside a transaction: the listing's calls are metered in the database as they happen.
    _create()
    try:
        listed = _load_ids(ids)
        return _missing(run, om, now), listed
    finally:
        _drop()


def _create() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {_TABLE}")
        cursor.execute(f"CREATE TEMP TABLE {_TABLE} (remote_id text)")


def _load_ids(ids: Iterable[str]) -> int:
    """Put the listed ids in the temporary table, a chunk at a time (no query may run while a
    COPY is open, and the listing's calls are metered between chunks); how many there were."""
    count = 0
    with connection.cursor() as cursor:
        for chunk in _chunks(iter(ids), COPY_CHUNK):
            if connection.vendor == "postgresql":
                with cursor.copy(f"COPY {_TABLE} (remote_id) FROM STDIN") as copy:
                    for remote_id in chunk:
                        copy.write_row((remote_id,))
            else:
                cursor.executemany(
                    f"INSERT INTO {_TABLE} (remote_id) VALUES (%s)", [(i,) for i in chunk]
                )
            count += len(chunk)
        cursor.execute(f"CREATE INDEX {_TABLE}_id ON {_TABLE} (remote_id)")
        if connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {_TABLE}")
    return count


def _missing(run: CycleRunner, om: ObjectMapping, before: dt.datetime) -> list[str]:
    # Links made after the listing began may point at records it could not see yet.
    links = RecordLink._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT l.remote_id FROM {links} l WHERE l.integration_id = %s "
            "AND l.remote_object = %s AND l.remote_id IS NOT NULL "
            "AND l.remote_deleted_at IS NULL AND (l.synced_at IS NULL OR l.synced_at < %s) "
            f"AND NOT EXISTS (SELECT 1 FROM {_TABLE} r WHERE r.remote_id = l.remote_id)",
            [run.integration.pk, om.remote_object, before],
        )
        return [row[0] for row in cursor.fetchall()]


def _drop() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {_TABLE}")


def _apply(run: CycleRunner, om: ObjectMapping, remote_ids: list[str], stage) -> int:
    """Apply the deletes of remote ids through the pull delete path; how many were linked (ids
    never linked, or whose links are marked deleted already, count as skipped there)."""
    if not remote_ids:
        return 0
    return pull.apply_remote_deletes(run, om, remote_ids, stage)


def _chunks(items: Iterator[str], size: int) -> Iterator[list[str]]:
    while chunk := list(islice(items, size)):
        yield chunk
