"""What reconciliation reads from Salesforce: every live id (one Bulk API 2.0 query job) and the
delete log (getDeleted), which still lists records purged from the recycle bin.

An id query costs one call to create the job, one or a few to see it complete, and one per page
of results; a page holds up to `ID_PAGE` ids (an 18-character id is 20 bytes of CSV, so a page of
500,000 is 10 MB, well within what one results call may return). Nothing deleted: 3 calls for
100,000 records. getDeleted (read at most every five minutes) reaches back 15 days at most, less
once Salesforce purged its delete log: a window starting before `earliestDateAvailable`, or
refused with INVALID_REPLICATION_DATE, may have missed deletes, which the engine then finds by
comparing ids.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator

from syncengine.connectors.base import DeleteLog, RemoteRequestError, TransientError
from syncengine.connectors.values import parse_remote_datetime

logger = logging.getLogger(__name__)

ID_PAGE = 500_000  # ids per results call (maxRecords)
DELETE_LOG_DAYS = 15  # how far back getDeleted may start
DELETE_LOG_EVERY = dt.timedelta(minutes=5)
# Waits before each look at the job's state. A comparison runs about once a day per object, so
# a few seconds of waiting cost nothing while every look costs an API call: the first wait is
# long enough for a job of 100,000 ids to be done, keeping nothing-deleted at 3 calls.
POLL_WAITS = (5.0, 5.0, 10.0, 15.0, 30.0)
MAX_POLL_SECONDS = 1800
FAILED_STATES = ("Failed", "Aborted")


def list_ids(
    call: Callable, restful: Callable, raw: Callable, remote_object: str, sleep: Callable
) -> Iterator[str]:
    """Every live id of an object through one Bulk API 2.0 query job (`SELECT Id`)."""
    job = call(
        restful,
        "jobs/query",
        method="POST",
        json={"operation": "query", "query": f"SELECT Id FROM {remote_object}"},
    )
    job_id = job["id"]
    waited, attempt = 0.0, 0
    while job.get("state") != "JobComplete":
        if job.get("state") in FAILED_STATES:
            raise TransientError(
                f"Bulk id query of {remote_object} ended {job['state']}: "
                f"{job.get('errorMessage', '')}"
            )
        if waited > MAX_POLL_SECONDS:
            raise TransientError(f"Bulk id query of {remote_object} still running: next cycle")
        pause = POLL_WAITS[min(attempt, len(POLL_WAITS) - 1)]
        sleep(pause)
        waited, attempt = waited + pause, attempt + 1
        job = call(restful, f"jobs/query/{job_id}")
    locator = ""
    while True:
        params = {"maxRecords": ID_PAGE}
        if locator:
            params["locator"] = locator
        response = call(raw, f"jobs/query/{job_id}/results", params)
        lines = response.text.splitlines()
        # One column, header "Id", ids need no quoting; strip quotes should a client add them.
        for line in lines[1:]:
            if line:
                yield line.strip('"')
        locator = response.headers.get("Sforce-Locator", "null")
        if not locator or locator == "null":
            return


def delete_log(
    call: Callable, restful: Callable, remote_object: str, since: dt.datetime | None
) -> DeleteLog:
    """getDeleted from `since` to now; not complete when the log no longer reaches `since`."""
    now = dt.datetime.now(dt.UTC)
    if since is None or since < now - dt.timedelta(days=DELETE_LOG_DAYS) + dt.timedelta(minutes=1):
        # Never read, or older than the log reaches: whatever was deleted before is unknown.
        return DeleteLog(complete=False, until=now)
    if now - since < DELETE_LOG_EVERY:
        # Salesforce: poll the replication API "no more frequently than every five minutes"
        # (and a window must span more than a minute). Read on from the same time next cycle.
        return DeleteLog()
    params = {"start": _iso(since), "end": _iso(now)}
    try:
        answer = call(restful, f"sobjects/{remote_object}/deleted/", params=params)
    except RemoteRequestError as exc:
        if exc.code != "INVALID_REPLICATION_DATE":
            raise
        logger.info("getDeleted of %s refused (%s): ids are compared", remote_object, exc)
        return DeleteLog(complete=False, until=now)
    earliest = answer.get("earliestDateAvailable")
    complete = not earliest or parse_remote_datetime(earliest) <= since
    covered = answer.get("latestDateCovered")
    return DeleteLog(
        ids=tuple(item["id"] for item in answer.get("deletedRecords") or []),
        complete=complete,
        until=parse_remote_datetime(covered) if covered else now,
    )


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
