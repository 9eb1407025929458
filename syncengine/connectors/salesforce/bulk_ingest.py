"""Bulk API 2.0 ingest jobs, sent and then left to the org while the engine goes on.

Starting a write creates a job, uploads its CSV and closes it; from then on the org works on it
(Salesforce runs jobs side by side, in the background), and the caller is free until it asks
for the outcomes. An engine that waited idle for each job before writing the previous job's
answers spent a third of an initial sync doing nothing.

Records that failed transiently (a row lock, an unavailable server) go into a new job of their
own after a pause, as the collections path resends them; what still fails after the last
attempt is reported as failed (and stays dirty in the engine). A job that fails as a whole is
a TransientError: the engine sends its records again next cycle (upserts are safe).
"""

from __future__ import annotations

import csv
import io
import logging
import random
import time
from collections.abc import Callable, Sequence

from simple_salesforce import Salesforce
from simple_salesforce.bulk2 import ColumnDelimiter, JobState, LineEnding
from simple_salesforce.exceptions import SalesforceOperationError

from syncengine.connectors.base import RemoteError, TransientError, WriteOutcome
from syncengine.connectors.salesforce.bulk_wait import wait_for_ingest_job
from syncengine.connectors.salesforce.errors import MAX_ATTEMPTS, only_transient

logger = logging.getLogger(__name__)

_STILL_OPEN = (JobState.open, JobState.upload_complete, JobState.in_progress)


class BulkWrite:
    """A write of many records of one object that the org is working on.

    `outcomes()` waits for it to end and answers by key value (the external id of an upsert,
    the Id of an update); a record missing from the answer was not processed."""

    def __init__(
        self,
        sf: Salesforce,
        call: Callable,
        *,
        remote_object: str,
        operation: str,
        key_field: str,
        records: Sequence[dict],
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        # `call` runs a simple-salesforce call with the connector's error translation.
        self._client = getattr(sf.bulk2, remote_object)._client  # the object's Bulk API client
        self._call, self._sleep = call, sleep
        self._remote_object, self._operation, self._key_field = remote_object, operation, key_field
        self._records = records
        self._job_id = self._start(records)

    def outcomes(self) -> dict[str, WriteOutcome]:
        """Wait for the job to end; the outcomes by key value, transient failures retried."""
        by_key = {_csv_value(r.get(self._key_field)): r for r in self._records}
        outcomes = self._finish(self._job_id)
        for attempt in range(2, MAX_ATTEMPTS + 1):
            retry = [
                by_key[key]
                for key, outcome in outcomes.items()
                if key in by_key and not outcome.success and only_transient(outcome)
            ]
            if not retry:
                break
            self._sleep(random.uniform(0, min(4.0, 0.25 * 2**attempt)))
            outcomes.update(self._finish(self._start(retry)))
        return outcomes

    def _start(self, records: Sequence[dict]) -> str:
        """Create, fill and close a job (the org works on it from here); its id."""
        job = self._call(
            self._client.create_job,
            self._operation,
            column_delimiter=ColumnDelimiter.COMMA,
            line_ending=LineEnding.LF,
            external_id_field=self._key_field if self._operation == "upsert" else None,
        )
        job_id = job["id"]
        # A job that could not be filled or closed is aborted, never left holding data open
        # for a day (simple-salesforce aborts it too).
        try:
            self._call(self._client.upload_job_data, job_id, _csv(records))
            self._call(self._client.close_job, job_id)
        except SalesforceOperationError as exc:
            self._abort(job_id)
            raise self._failed(exc) from exc
        except BaseException:
            self._abort(job_id)
            raise
        return job_id

    def _finish(self, job_id: str) -> dict[str, WriteOutcome]:
        """Wait for the job to end; its outcomes by key value. Result rows come back in no
        particular order: they are reconciled on the key column."""
        try:
            job = wait_for_ingest_job(self._client.get_job, job_id)
            outcomes: dict[str, WriteOutcome] = {}
            ok = self._call(self._client.get_ingest_results, job_id, "successfulResults")
            for row in csv.DictReader(io.StringIO(ok or "")):
                outcomes[row.get(self._key_field) or row.get("sf__Id", "")] = WriteOutcome(
                    success=True,
                    remote_id=row.get("sf__Id"),
                    created=row.get("sf__Created", "").lower() == "true",
                )
            if int(job.get("numberRecordsFailed") or 0):
                failed = self._call(self._client.get_ingest_results, job_id, "failedResults")
                for row in csv.DictReader(io.StringIO(failed or "")):
                    outcomes[row.get(self._key_field) or row.get("sf__Id", "")] = WriteOutcome(
                        success=False,
                        remote_id=row.get("sf__Id") or None,
                        errors=[_bulk_error(row.get("sf__Error", ""))],
                    )
        except SalesforceOperationError as exc:
            raise self._failed(exc) from exc
        return outcomes

    def _failed(self, exc: SalesforceOperationError) -> TransientError:
        return TransientError(f"Bulk API job for {self._remote_object} failed: {exc}")

    def _abort(self, job_id: str) -> None:
        try:
            if self._client.get_job(job_id, False)["state"] in _STILL_OPEN:
                self._client.abort_job(job_id, False)
        except Exception:
            # The error that brought us here matters more; the next cycle's abort_open_jobs
            # aborts a job left open.
            logger.warning("could not abort Bulk API job %s", job_id, exc_info=True)


def _csv(records: Sequence[dict]) -> str:
    """The job's CSV: a blank cell leaves a field as it is, "#N/A" clears it."""
    columns = sorted({key for record in records for key in record})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(
        [(_csv_value(r[c]) if r[c] is not None else "#N/A") if c in r else "" for c in columns]
        for r in records
    )
    return out.getvalue()


def _csv_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _bulk_error(text: str) -> RemoteError:
    """`CODE:message:Field1,Field2 --` (messages may hold colons and newlines)."""
    code, _, rest = text.partition(":")
    rest = rest.rstrip().removesuffix("--").rstrip()
    message, _, fields = rest.rpartition(":")
    if not message:  # no field part
        message, fields = rest, ""
    return RemoteError(
        code=code or "UNKNOWN",
        message=message,
        fields=tuple(f for f in fields.split(",") if f),
    )
