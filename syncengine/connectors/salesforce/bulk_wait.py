"""Waiting for a Bulk API 2.0 ingest job: short looks first, then one a second.

simple-salesforce sleeps its `wait` argument before the first look and about as long between
looks (never less than a second with the wait the connector used), so every job cost a second
or more of pure waiting even when the org had finished it in a tenth of one: on an initial
sync that was a fifth of the engine's wall time. Looks here start after 50 ms and double up to
a second, like the polling of simple-salesforce's own query jobs but from a much shorter start.
Every look is an API call: a job done within a second costs about five, one of a minute ~65.
The last look answers the job's counts too, so no further call asks for them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from simple_salesforce.bulk2 import JobState
from simple_salesforce.exceptions import SalesforceOperationError

FIRST_LOOK = 0.05  # seconds after the job is closed
LONGEST_PAUSE = 1.0
TIMEOUT = 86_400.0  # simple-salesforce's: a job runs for a day at most
DONE = (JobState.job_complete, JobState.aborted, JobState.failed)


def poll_pauses(first: float = FIRST_LOOK, longest: float = LONGEST_PAUSE):
    """The pauses before each look: first, doubling, then `longest` for ever."""
    pause = first
    while True:
        yield pause
        pause = min(longest, pause * 2)


def wait_for_ingest_job(
    get_job: Callable[[str, bool], dict],
    job_id: str,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict:
    """Look at the job until it ends; the job as last seen (JobComplete, with its counts), or
    SalesforceOperationError when it failed, was aborted or outlasted the timeout (as
    simple-salesforce raises)."""
    deadline = clock() + TIMEOUT
    state = JobState.open
    for pause in poll_pauses():
        if clock() >= deadline:
            break
        sleep(pause)
        job = get_job(job_id, False)
        state = job["state"]
        if state in DONE:
            if state != JobState.job_complete:
                raise SalesforceOperationError(
                    f"Job failure. Response content: {job.get('errorMessage') or job}"
                )
            return job
    raise SalesforceOperationError(f"Job timeout. Job status: {state}")
