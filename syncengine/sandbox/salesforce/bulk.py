"""Bulk API 2.0: ingest and query jobs, processed asynchronously by a background thread."""

from __future__ import annotations

import base64
import csv
import io
import queue
import threading
import time
from typing import Any

from . import soql
from .dml import WriteOp, WriteOptions, Writer, now_stamp
from .errors import ApiError, not_found
from .ids import IdGenerator
from .org import OrgDef
from .query import QueryEngine
from .store import Store

INGEST_OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
DELIMITERS = {
    "COMMA": ",",
    "TAB": "\t",
    "PIPE": "|",
    "SEMICOLON": ";",
    "CARET": "^",
    "BACKQUOTE": "`",
}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
CHUNK = 200  # triggers and validation run per chunk of 200 records, as in Salesforce
RECORDS_PER_BATCH = 10_000  # what one DailyBulkApiBatches unit covers


def _bad_request(message: str, code: str = "INVALIDJOB") -> ApiError:
    return ApiError(code, message)


def _csv_text(header: list[str] | None, rows: list[list[Any]], job: dict[str, Any]) -> str:
    """CSV in the job's delimiter and line ending; ``header=None`` renders the rows only (an
    empty header would be written as a blank line)."""
    buffer = io.StringIO()
    writer = csv.writer(
        buffer,
        delimiter=DELIMITERS[job["columnDelimiter"]],
        lineterminator=LINE_ENDINGS[job["lineEnding"]],
        quoting=csv.QUOTE_ALL,
    )
    if header is not None:
        writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _error_text(error: ApiError) -> str:
    fields = ",".join(error.fields or [])
    return (
        f"{error.code}:{error.message}:{fields} --"
        if fields
        else f"{error.code}:{error.message}:--"
    )


class BulkService:
    def __init__(
        self,
        store: Store,
        org: OrgDef,
        writer: Writer,
        queries: QueryEngine,
        lock_rate: Any,
    ) -> None:
        self.store = store
        self.org = org
        self.writer = writer
        self.queries = queries
        self._lock_rate = lock_rate  # callable returning the current UNABLE_TO_LOCK_ROW rate
        self._ids = IdGenerator()
        self._queue: queue.Queue[str] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="bulk-worker", daemon=True)
        self._thread.start()
        # Jobs interrupted by a restart are picked up again.
        for job in store.list_jobs():
            if job["state"] in ("UploadComplete", "InProgress"):
                self._queue.put(job["id"])

    # --- job records ---------------------------------------------------------------------------

    def _new_job(self, kind: str, version: str, **fields: Any) -> dict[str, Any]:
        stamp = now_stamp(self.store)
        job_id = self._ids.new_id("750")
        job: dict[str, Any] = {
            "id": job_id,
            "operation": fields.pop("operation"),
            "object": fields.pop("object"),
            "createdById": self.org.user.user_id,
            "createdDate": stamp,
            "systemModstamp": stamp,
            "state": fields.pop("state"),
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(version),
            "jobType": "V2Ingest" if kind == "ingest" else "V2Query",
            "lineEnding": fields.pop("lineEnding", "LF"),
            "columnDelimiter": fields.pop("columnDelimiter", "COMMA"),
        }
        job.update(fields)
        return job

    def get(self, kind: str, job_id: str) -> dict[str, Any]:
        job = self.store.load_job(job_id)
        if job is None or (job["jobType"] == "V2Ingest") != (kind == "ingest"):
            raise not_found()
        return job

    def _save(self, job: dict[str, Any]) -> None:
        job["systemModstamp"] = now_stamp(self.store)
        self.store.save_job(job["id"], job)

    def list(self, kind: str) -> dict[str, Any]:
        wanted = "V2Ingest" if kind == "ingest" else "V2Query"
        records = [j for j in self.store.list_jobs() if j["jobType"] == wanted]
        return {"done": True, "records": records, "nextRecordsUrl": None}

    # --- ingest --------------------------------------------------------------------------------

    def create_ingest(self, body: dict[str, Any], version: str) -> dict[str, Any]:
        operation = body.get("operation")
        if operation not in INGEST_OPERATIONS:
            raise _bad_request(f"Invalid operation: {operation}")
        obj = self.org.sobject(str(body.get("object", "")))
        if obj is None:
            raise _bad_request(
                f"Entity '{body.get('object')}' is not supported by the Bulk API.", "INVALIDENTITY"
            )
        if operation == "upsert" and not body.get("externalIdFieldName"):
            raise _bad_request("External ID was blank for upsert operation")
        delimiter = body.get("columnDelimiter", "COMMA")
        line_ending = body.get("lineEnding", "LF")
        if delimiter not in DELIMITERS or line_ending not in LINE_ENDINGS:
            raise _bad_request("Invalid columnDelimiter or lineEnding")
        extra: dict[str, Any] = {}
        if operation == "upsert":
            extra["externalIdFieldName"] = body["externalIdFieldName"]
        job = self._new_job(
            "ingest",
            version,
            operation=operation,
            object=obj.name,
            state="Open",
            columnDelimiter=delimiter,
            lineEnding=line_ending,
            **extra,
        )
        job["contentUrl"] = f"services/data/v{version}/jobs/ingest/{job['id']}/batches"
        job.update(
            numberRecordsProcessed=0,
            numberRecordsFailed=0,
            retries=0,
            totalProcessingTime=0,
            apiActiveProcessingTime=0,
            apexProcessingTime=0,
        )
        self._save(job)
        return job

    def upload(self, job_id: str, csv_text: str) -> None:
        job = self.get("ingest", job_id)
        if job["state"] != "Open":
            raise ApiError(
                "INVALIDJOBSTATE", f"Job is not open for uploads: {job['state']}", status=409
            )
        existing = self.store.job_upload(job_id)
        if existing:
            # A later upload repeats the header row; keep only its data rows.
            _, _, csv_text = csv_text.partition(LINE_ENDINGS[job["lineEnding"]])
        self.store.append_job_upload(job_id, csv_text)

    def set_state(self, kind: str, job_id: str, state: str | None) -> dict[str, Any]:
        job = self.get(kind, job_id)
        if state == "UploadComplete" and kind == "ingest":
            if job["state"] != "Open":
                raise ApiError("INVALIDJOBSTATE", f"Job is already {job['state']}", status=409)
            job["state"] = "UploadComplete"
            self._save(job)
            self._queue.put(job_id)
        elif state == "Aborted":
            if job["state"] in ("JobComplete", "Failed", "Aborted"):
                raise ApiError("INVALIDJOBSTATE", f"Job is already {job['state']}", status=409)
            job["state"] = "Aborted"
            self._save(job)
        else:
            raise _bad_request(f"Invalid state: {state}")
        return job

    def delete(self, kind: str, job_id: str) -> None:
        job = self.get(kind, job_id)
        if job["state"] in ("UploadComplete", "InProgress"):
            raise ApiError("INVALIDJOBSTATE", "Job is still being processed", status=409)
        self.store.delete_job(job_id)

    def ingest_results(self, job_id: str, which: str) -> str:
        job = self.get("ingest", job_id)
        results = self.store.job_results(job_id)
        if results is None:
            if which == "unprocessed":
                return (
                    self.store.job_upload(job_id) if job["state"] in ("Aborted", "Failed") else ""
                )
            raise ApiError("INVALIDJOBSTATE", "Job is not complete yet", status=409)
        return results[which]

    def _process_ingest(self, job: dict[str, Any]) -> None:
        started = time.monotonic()
        text = self.store.job_upload(job["id"])
        reader = csv.reader(
            io.StringIO(text, newline=""), delimiter=DELIMITERS[job["columnDelimiter"]]
        )
        rows = [row for row in reader if row]
        if not rows:
            self._fail(job, "InvalidBatch : Empty CSV file")
            return
        header, data = rows[0], rows[1:]
        obj = self.org.objects[job["object"]]
        for column in header:
            f = obj.field(column)
            if f is None or not f.visible:
                self._fail(job, f"InvalidBatch : Field name not found : {column}", text)
                return
        operation = job["operation"]
        successes: list[list[Any]] = []
        failures: list[list[Any]] = []
        id_column = next((i for i, c in enumerate(header) if c.lower() == "id"), None)
        for start in range(0, len(data), CHUNK):
            if (self.store.load_job(job["id"]) or {}).get("state") == "Aborted":
                return
            chunk = data[start : start + CHUNK]
            ops = []
            for row in chunk:
                values: dict[str, Any] = {}
                for column, cell in zip(header, row, strict=False):
                    if cell == "":
                        continue  # empty cells leave the field unchanged; #N/A sets it to null
                    values[column] = None if cell == "#N/A" else cell
                record_id = (
                    row[id_column] if id_column is not None and id_column < len(row) else None
                )
                if operation in ("delete", "hardDelete"):
                    ops.append(WriteOp("delete", obj.name, record_id=record_id))
                elif operation == "update":
                    ops.append(WriteOp("update", obj.name, values, record_id=record_id))
                elif operation == "upsert":
                    ops.append(
                        WriteOp(
                            "upsert", obj.name, values, external_field=job["externalIdFieldName"]
                        )
                    )
                else:
                    ops.append(WriteOp("insert", obj.name, values))
            results = self.writer.run(ops, WriteOptions(unable_to_lock_row_rate=self._lock_rate()))
            for row, result in zip(chunk, results, strict=True):
                if result.success:
                    created = "true" if result.created else "false"
                    successes.append([result.id, created, *row])
                else:
                    failures.append([result.id or "", _error_text(result.errors[0]), *row])
        self._count_batches(len(data))
        job.update(
            state="JobComplete",
            numberRecordsProcessed=len(data),
            numberRecordsFailed=len(failures),
            totalProcessingTime=int((time.monotonic() - started) * 1000),
            apiActiveProcessingTime=int((time.monotonic() - started) * 1000),
        )
        self.store.save_job_results(
            job["id"],
            {
                "successful": _csv_text(["sf__Id", "sf__Created", *header], successes, job),
                "failed": _csv_text(["sf__Id", "sf__Error", *header], failures, job),
                "unprocessed": _csv_text(header, [], job),
            },
        )
        self._save(job)

    def _count_batches(self, records: int) -> None:
        batches = max(1, -(-records // RECORDS_PER_BATCH))
        log = [e for e in self.store.get_setting("bulk_batches", []) if e[0] > time.time() - 86400]
        log.append([time.time(), batches])
        self.store.set_setting("bulk_batches", log)

    def batches_used(self) -> int:
        return sum(
            n for ts, n in self.store.get_setting("bulk_batches", []) if ts > time.time() - 86400
        )

    def _fail(self, job: dict[str, Any], message: str, upload: str = "") -> None:
        job.update(state="Failed", errorMessage=message)
        self.store.save_job_results(
            job["id"],
            {
                "successful": "",
                "failed": "",
                "unprocessed": upload,
            },
        )
        self._save(job)

    # --- query ---------------------------------------------------------------------------------

    def create_query(self, body: dict[str, Any], version: str) -> dict[str, Any]:
        operation = body.get("operation", "query")
        if operation not in ("query", "queryAll"):
            raise _bad_request(f"Invalid operation: {operation}")
        text = str(body.get("query", ""))
        result = self.queries.run(text, include_deleted=operation == "queryAll")  # validates now
        # Bulk queries have no OFFSET and no aggregates (SOQL OFFSET page: "not allowed in SOQL
        # used within Bulk APIs"); Salesforce refuses them when the job is created.
        parsed = soql.parse_query(text)
        if parsed.offset_position >= 0:
            raise ApiError("API_ERROR", "OFFSET not supported in Bulk Query")
        if parsed.is_count:
            raise ApiError("API_ERROR", "Aggregate queries not supported in Bulk Query")
        job = self._new_job(
            "query",
            version,
            operation=operation,
            object=result.obj.name,
            state="UploadComplete",
            columnDelimiter=body.get("columnDelimiter", "COMMA"),
            lineEnding=body.get("lineEnding", "LF"),
        )
        job.update(query=text, numberRecordsProcessed=0, retries=0, totalProcessingTime=0)
        self._save(job)
        self._queue.put(job["id"])
        return job

    def _process_query(self, job: dict[str, Any]) -> None:
        started = time.monotonic()
        result = self.queries.run(job["query"], include_deleted=job["operation"] == "queryAll")
        header = [c.path for c in result.columns]
        rows = [
            _csv_text(None, [[_csv_value(c.get(r)) for c in result.columns]], job)
            for r in result.rows
        ]
        # Stored as the header line plus one pre-rendered line per record, for cheap paging.
        self.store.save_job_results(job["id"], {"header": _csv_text(header, [], job), "rows": rows})
        job.update(
            state="JobComplete",
            numberRecordsProcessed=len(rows),
            totalProcessingTime=int((time.monotonic() - started) * 1000),
        )
        self._save(job)

    def query_results(
        self, job_id: str, locator: str | None, max_records: int | None
    ) -> tuple[str, str, int]:
        """(csv text, next locator or "null", number of records) for one page of results."""
        job = self.get("query", job_id)
        results = self.store.job_results(job_id)
        if job["state"] != "JobComplete" or results is None:
            raise ApiError("INVALIDJOBSTATE", f"Job is not complete: {job['state']}", status=409)
        try:
            offset = int(base64.b64decode(locator).decode()) if locator else 0
        except ValueError as exc:
            raise ApiError("INVALID_LOCATOR", "Invalid locator") from exc
        size = max_records or 50_000
        page = results["rows"][offset : offset + size]
        end = offset + len(page)
        next_locator = (
            base64.b64encode(str(end).encode()).decode().rstrip("=")
            if end < len(results["rows"])
            else "null"
        )
        if next_locator != "null":
            next_locator += "=" * (-len(next_locator) % 4)
        return results["header"] + "".join(page), next_locator, len(page)

    # --- worker --------------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            job_id = self._queue.get()
            job = self.store.load_job(job_id)
            if job is None or job["state"] not in ("UploadComplete", "InProgress"):
                continue
            job["state"] = "InProgress"
            self._save(job)
            try:
                if job["jobType"] == "V2Ingest":
                    self._process_ingest(job)
                else:
                    self._process_query(job)
            except Exception as exc:  # a job must end in a final state whatever went wrong
                self._fail(job, f"UNKNOWN_EXCEPTION : {exc}")
