"""The Salesforce connector: simple-salesforce over one metered requests session.

Every call to `/services/data` passes through `MeteredSession.request`, which asks the meter
before sending (so the allocation is never exceeded; the meter counts the call there, as it is
sent), passes the org's usage from the answer on, refreshes the access token once on a 401,
and retries transient faults with backoff and jitter. Only idempotent requests are sent
(queries, describes, upserts on an external id, updates by id), so a retry after a lost answer
never writes twice.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import random
import re
import time
from collections.abc import Callable, Iterator, Sequence
from urllib.parse import quote

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError

from syncengine.connectors.base import (
    AuthError,
    BudgetExhausted,
    Conversion,
    DeleteLog,
    JunctionRow,
    OwnWrites,
    PulledRows,
    RemoteError,
    RemoteField,
    RemoteMerge,
    RemoteRequestError,
    RemoteRow,
    RemoteUser,
    TransientError,
    WriteOutcome,
)
from syncengine.connectors.interface import Account, Meter, TokenStore
from syncengine.connectors.salesforce import contact_roles, mapping, reconcile, users
from syncengine.connectors.salesforce import conversions as lead_conversions
from syncengine.connectors.salesforce.bulk_ingest import BulkWrite
from syncengine.connectors.salesforce.errors import MAX_ATTEMPTS, TRANSIENT_CODES, only_transient
from syncengine.connectors.salesforce.mapping import soql_datetime, soql_id
from syncengine.connectors.values import parse_remote_datetime

logger = logging.getLogger(__name__)

COLLECTION_SIZE = 200  # the sObject Collections maximum per call
DEFAULT_API_VERSION = "62.0"
REQUEST_TIMEOUT = 60
_LIMIT_RE = re.compile(r"api-usage=(\d+)/(\d+)")
TRANSIENT_STATUS = {500, 502, 503, 504}
# Per-record failures that go away by themselves (Salesforce's "intermittent" errors): the
# record is sent again after a pause, and stays to be pushed if they outlast the retries.


class MeteredSession(requests.Session):
    """A requests session that meters, refreshes once on 401, and retries transient faults."""

    def __init__(
        self,
        *,
        meter: Meter,
        tokens: TokenStore,
        on_token: Callable[[str], None],
        ca_file: str = "",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__()
        if ca_file:
            self.verify = ca_file
            self.trust_env = False
        self.meter, self.tokens, self.on_token, self.sleep = meter, tokens, on_token, sleep
        self.calls = 0
        self.server_time: dt.datetime | None = None  # the Date of the last answer

    def request(self, method, url, *args, **kwargs):
        if "/services/data/v" not in url:
            return super().request(method, url, *args, **kwargs)
        kwargs.setdefault("timeout", REQUEST_TIMEOUT)
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            self.meter.before_call()
            try:
                response = super().request(method, url, *args, **kwargs)
            except (requests.Timeout, requests.ConnectionError) as exc:
                self._count(None)
                if attempt >= MAX_ATTEMPTS:
                    raise TransientError(f"{method} {url}: {exc}") from exc
                self._backoff(attempt)
                continue
            self._count(response)
            if response.status_code == 401 and not refreshed:
                # Salesforce gives no expiry time: a 401 is the signal to refresh, once.
                token = self.tokens.refresh()
                self.on_token(token)
                headers = dict(kwargs.get("headers") or {})
                headers["Authorization"] = f"Bearer {token}"
                kwargs["headers"] = headers
                refreshed = True
                attempt -= 1
                continue
            if response.status_code == 401:
                raise AuthError("the refreshed access token was refused")
            if response.status_code == 403 and "REQUEST_LIMIT_EXCEEDED" in response.text:
                raise BudgetExhausted("Salesforce refused the call: the org's API limit is reached")
            if response.status_code in TRANSIENT_STATUS or _is_row_lock(response):
                if attempt >= MAX_ATTEMPTS:
                    raise TransientError(f"{method} {url} answered {response.status_code}")
                self._backoff(attempt)
                continue
            return response

    def _count(self, response: requests.Response | None) -> None:
        self.calls += 1
        used = limit = None
        if response is not None:
            self.server_time = _server_time(response)
            match = _LIMIT_RE.search(response.headers.get("Sforce-Limit-Info", ""))
            if match:
                used, limit = int(match.group(1)), int(match.group(2))
        self.meter.after_call(org_used=used, org_limit=limit)

    def _backoff(self, attempt: int) -> None:
        # Exponential backoff with full jitter, kept short: a cycle retries again next time.
        self.sleep(random.uniform(0, min(4.0, 0.25 * 2**attempt)))


def _server_time(response: requests.Response) -> dt.datetime | None:
    """The remote's clock when it answered (the HTTP Date header, whole seconds)."""
    try:
        return email.utils.parsedate_to_datetime(response.headers["Date"])
    except (KeyError, TypeError, ValueError):
        return None


def _is_row_lock(response: requests.Response) -> bool:
    return response.status_code == 400 and "UNABLE_TO_LOCK_ROW" in response.text[:500]


def _json(response: requests.Response):
    try:
        return response.json()
    except ValueError:
        return {}


class SalesforceConnector:
    """Describe, query, upsert and update a Salesforce org through the metered session."""

    codec = mapping
    incremental = "stamp"  # SystemModstamp watermarks
    supports_bulk = True  # Bulk API 2.0
    batch_size = COLLECTION_SIZE
    transient_codes = TRANSIENT_CODES
    conversions = lead_conversions.CONVERSIONS
    # Salesforce merges Accounts, Contacts and Leads: losers are deleted with MasterRecordId.
    merges = frozenset({"Account", "Contact", "Lead"})
    junctions = contact_roles.JUNCTIONS
    read_at: dt.datetime | None = None
    lists_ids = True  # Bulk API 2.0 id queries and getDeleted
    has_users = True  # read_users: records have owners (OwnerId → User)

    def __init__(
        self,
        *,
        instance_url: str,
        api_version: str,
        meter: Meter,
        tokens: TokenStore,
        ca_file: str = "",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.session = MeteredSession(
            meter=meter, tokens=tokens, on_token=self._set_token, ca_file=ca_file, sleep=sleep
        )
        self.sf = Salesforce(
            instance_url=instance_url,
            session_id=tokens.access_token(),
            version=api_version,
            session=self.session,
        )
        self.sleep = sleep
        self.meter = meter
        # Deleted rows pull_merges read, kept for the pull_deletes of the same window.
        self._read_deleted: dict[tuple[str, dt.datetime | None], list[dict]] = {}

    @classmethod
    def record_url(cls, *, endpoint: str, remote_object: str, remote_id: str) -> str:
        """The record's Lightning Experience page: <instance>/lightning/r/<SObject>/<Id>/view."""
        if not endpoint or not remote_id:
            return ""
        obj, rid = quote(remote_object, safe=""), quote(remote_id, safe="")
        return f"{endpoint.rstrip('/')}/lightning/r/{obj}/{rid}/view"

    @classmethod
    def open(cls, account: Account) -> SalesforceConnector:
        """The org's connector: its instance URL and the settings' `api_version`."""
        return cls(
            instance_url=account.endpoint,
            api_version=str(account.options.get("api_version") or DEFAULT_API_VERSION),
            meter=account.meter,
            tokens=account.tokens,
            ca_file=account.ca_file,
            sleep=account.sleep,
        )

    @property
    def calls(self) -> int:
        return self.session.calls

    def _set_token(self, token: str) -> None:
        self.sf.session_id = token
        self.sf.headers["Authorization"] = f"Bearer {token}"

    def _call(self, fn: Callable, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SalesforceError as exc:
            content = exc.content
            if isinstance(content, list) and content and isinstance(content[0], dict):
                first = content[0]
                raise RemoteRequestError(
                    first.get("errorCode", "UNKNOWN"), first.get("message", ""), exc.status
                ) from exc
            raise RemoteRequestError("UNKNOWN_EXCEPTION", str(content), exc.status) from exc

    # --- reads ---------------------------------------------------------------------------

    def describe(self, remote_object: str) -> dict[str, RemoteField]:
        """The fields the integration user can see, by name."""
        result = self._call(self.sf.restful, f"sobjects/{remote_object}/describe")
        fields = {}
        for f in result.get("fields", []):
            fields[f["name"]] = RemoteField(
                name=f["name"],
                type=f.get("type", "string"),
                label=f.get("label", f["name"]),
                createable=bool(f.get("createable")),
                updateable=bool(f.get("updateable")),
                nillable=bool(f.get("nillable", True)),
                restricted_picklist=bool(f.get("restrictedPicklist")),
                picklist_values=tuple(
                    p["value"] for p in f.get("picklistValues") or [] if p.get("active", True)
                ),
                reference_to=tuple(f.get("referenceTo") or ()),
            )
        return fields

    def query(self, soql: str, *, include_deleted: bool = False) -> Iterator[dict]:
        """Every row of a SOQL query, following nextRecordsUrl page by page."""
        page = self._call(self.sf.query, soql, include_deleted=include_deleted)
        while True:
            for row in page.get("records", []):
                row.pop("attributes", None)
                yield row
            next_url = page.get("nextRecordsUrl")
            if page.get("done", True) or not next_url:
                return
            page = self._call(self.sf.query_more, next_url, identifier_is_url=True)

    def pull_changes(
        self,
        remote_object: str,
        fields: Sequence[str],
        since: dt.datetime | None = None,
        cursor: str = "",
        own_writes: OwnWrites | None = None,
    ) -> PulledRows:
        """Records changed at or after `since`, oldest first (pulls go by SystemModstamp),
        without the records Concord's user (`own_writes`) created and nobody changed since."""
        columns = ", ".join(dict.fromkeys(["Id", "SystemModstamp", *fields]))
        conditions = [f"SystemModstamp >= {soql_datetime(since)}"] if since else []
        if own_writes and own_writes.spans:
            user = soql_id(own_writes.user_id)
            spans = " OR ".join(
                f"(CreatedDate >= {soql_datetime(start)} "
                f"AND SystemModstamp <= {soql_datetime(end)})"
                for start, end in own_writes.spans
            )
            conditions.append(
                f"NOT (CreatedById = {user} AND LastModifiedById = {user} AND ({spans}))"
            )
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        rows = self.query(
            f"SELECT {columns} FROM {remote_object}{where} ORDER BY SystemModstamp ASC, Id ASC"
        )
        return PulledRows(_remote_row(row) for row in rows)

    def pull_deletes(self, remote_object: str, since: dt.datetime | None) -> Iterator[RemoteRow]:
        """Records moved to the recycle bin at or after `since` (queryAll sees them)."""
        rows = self._read_deleted.pop((remote_object, since), None)
        if rows is None:
            rows = self._deleted_rows(remote_object, since)
        return (_remote_row(row) for row in rows)

    def pull_merges(self, remote_object: str, since: dt.datetime | None) -> list[RemoteMerge]:
        """Records merged away at or after `since`: deleted ones with a MasterRecordId.

        Merged records are deleted records, so this reads the deletes of the window (one
        queryAll) and keeps them for the pull_deletes of the same window, which then costs no
        call of its own."""
        rows = list(self._deleted_rows(remote_object, since))
        self._read_deleted[(remote_object, since)] = rows
        return [
            RemoteMerge(
                remote_id=row["Id"], master_id=row["MasterRecordId"], stamp=_remote_row(row).stamp
            )
            for row in rows
            if row.get("MasterRecordId")
        ]

    def _deleted_rows(self, remote_object: str, since: dt.datetime | None) -> Iterator[dict]:
        merging = remote_object in self.merges
        columns = "Id, SystemModstamp" + (", MasterRecordId" if merging else "")
        where = "IsDeleted = TRUE" + (
            f" AND SystemModstamp >= {soql_datetime(since)}" if since else ""
        )
        return self.query(
            f"SELECT {columns} FROM {remote_object} WHERE {where} "
            "ORDER BY SystemModstamp ASC, Id ASC",
            include_deleted=True,
        )

    def read_users(self, since: dt.datetime | None) -> Iterator[RemoteUser]:
        """Users changed at or after `since` (all without it), oldest first."""
        return users.read(self.query, since)

    def pull_conversions(self, remote_object: str, since: dt.datetime | None) -> list[Conversion]:
        """Converted Leads (changed at or after `since`) and the Contact each became."""
        return lead_conversions.pull(self.query, remote_object, since)

    def read_junctions(
        self,
        junction: str,
        *,
        since: dt.datetime | None = None,
        parent_ids: Sequence[str] | None = None,
    ) -> Iterator[JunctionRow]:
        """Records of a junction object (e.g. OpportunityContactRole): all, those changed or
        deleted since a stamp (one queryAll), or those of some parents. `read_at` becomes the
        org's clock when it answered the first page."""
        rows = iter(contact_roles.read(self.query, junction, since=since, parent_ids=parent_ids))
        self.read_at = None
        try:
            first = next(rows)  # the first page is answered
        except StopIteration:
            self.read_at = self.session.server_time
            return
        self.read_at = self.session.server_time
        yield first
        yield from rows

    @property
    def answered_at(self) -> dt.datetime | None:
        """The org's clock at its last answer (whole seconds)."""
        return self.session.server_time

    def create_junctions(
        self, junction: str, pairs: Sequence[tuple[str, str]]
    ) -> list[WriteOutcome]:
        """Create junction records for (parent id, child id) pairs (up to 200)."""
        return self.create(junction, contact_roles.records(junction, pairs))

    def list_remote_ids(self, remote_object: str) -> Iterator[str]:
        """Every live id of the object, through one Bulk API 2.0 query job (`SELECT Id`)."""
        return reconcile.list_ids(self._call, self.sf.restful, self._csv, remote_object, self.sleep)

    def read_delete_log(self, remote_object: str, since: dt.datetime | None) -> DeleteLog:
        """getDeleted since `since` (purged records too); not complete outside its window."""
        return reconcile.delete_log(self._call, self.sf.restful, remote_object, since)

    def _csv(self, path: str, params: dict) -> requests.Response:
        return self.sf._call_salesforce(
            "GET", self.sf.base_url + path, name=path, params=params,
            headers={"Accept": "text/csv"},
        )  # fmt: skip

    def limits(self) -> dict:
        return self._call(self.sf.limits)

    def abort_open_jobs(self, created_by: str) -> list[str]:
        """Abort the Bulk API 2.0 ingest jobs this user left open or queued (a worker that died
        mid-job never closed them); they would otherwise hold data for a day. Returns their ids."""
        aborted = []
        page = self._call(self.sf.restful, "jobs/ingest")
        while True:
            for job in page.get("records") or []:
                if job.get("createdById") == created_by and job.get("state") in (
                    "Open",
                    "UploadComplete",
                ):
                    self._call(
                        self.sf.restful,
                        f"jobs/ingest/{job['id']}",
                        method="PATCH",
                        json={"state": "Aborted"},
                    )
                    aborted.append(job["id"])
            next_url = page.get("nextRecordsUrl")
            if page.get("done", True) or not next_url:
                return aborted
            # nextRecordsUrl is absolute from the host: /services/data/vNN.N/jobs/ingest?...
            page = self._call(self.sf.restful, "jobs/" + next_url.split("/jobs/", 1)[1])

    # --- writes --------------------------------------------------------------------------

    def upsert(
        self, remote_object: str, external_id_field: str, records: Sequence[dict]
    ) -> list[WriteOutcome]:
        """Create or update up to 200 records by external id: a retried batch never duplicates."""
        body = {
            "allOrNone": False,
            "records": [{"attributes": {"type": remote_object}, **r} for r in records],
        }
        return self._write(
            f"composite/sobjects/{remote_object}/{external_id_field}", "PATCH", body, records
        )

    def start_bulk_upsert(
        self, remote_object: str, external_id_field: str, records: Sequence[dict]
    ) -> BulkWrite:
        """Send an upsert of many records as one Bulk API 2.0 job, which the org works on while
        the caller goes on; `outcomes()` by external id value."""
        return self._start_bulk(remote_object, "upsert", external_id_field, records)

    def start_bulk_update(self, remote_object: str, rows: Sequence[RemoteRow]) -> BulkWrite:
        """Send an update of many records by id as one Bulk API 2.0 job; `outcomes()` by id."""
        return self._start_bulk(remote_object, "update", "Id", [_by_id(row) for row in rows])

    def _start_bulk(
        self, remote_object: str, operation: str, key_field: str, records: Sequence[dict]
    ) -> BulkWrite:
        return BulkWrite(
            self.sf,
            self._call,
            remote_object=remote_object,
            operation=operation,
            key_field=key_field,
            records=records,
            sleep=self.sleep,
        )

    def update(self, remote_object: str, rows: Sequence[RemoteRow]) -> list[WriteOutcome]:
        """Update up to 200 records by id."""
        records = [_by_id(row) for row in rows]
        body = {
            "allOrNone": False,
            "records": [{"attributes": {"type": remote_object}, **r} for r in records],
        }
        return self._write("composite/sobjects", "PATCH", body, records)

    def create(self, remote_object: str, records: Sequence[dict]) -> list[WriteOutcome]:
        """Create up to 200 records (for objects without an external id, e.g. junctions)."""
        body = {
            "allOrNone": False,
            "records": [{"attributes": {"type": remote_object}, **r} for r in records],
        }
        return self._write("composite/sobjects", "POST", body, records)

    def delete(self, ids: Sequence[str]) -> list[WriteOutcome]:
        """Delete up to 200 records by id; one already gone counts as deleted."""
        if len(ids) > COLLECTION_SIZE:
            raise ValueError(f"at most {COLLECTION_SIZE} records per collection call")
        params = {"ids": ",".join(ids), "allOrNone": "false"}
        result = self._call(self.sf.restful, "composite/sobjects", method="DELETE", params=params)
        outcomes = [_outcome(item) for item in result or []]
        return [
            WriteOutcome(True, remote_id=i)
            if not o.success
            and all(e.code in ("ENTITY_IS_DELETED", "NOT_FOUND") for e in o.errors or [])
            else o
            for i, o in zip(ids, outcomes, strict=False)
        ]

    def _write(self, path: str, method: str, body: dict, records: Sequence[dict]):
        if len(records) > COLLECTION_SIZE:
            raise ValueError(f"at most {COLLECTION_SIZE} records per collection call")
        pending = list(range(len(records)))
        outcomes: list[WriteOutcome | None] = [None] * len(records)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            result = self._send(path, method, body, [body["records"][i] for i in pending])
            retry = []
            for index, item in zip(pending, result, strict=False):
                outcome = _outcome(item)
                outcomes[index] = outcome
                if not outcome.success and only_transient(outcome) and attempt < MAX_ATTEMPTS:
                    retry.append(index)
            if not retry:
                break
            # Row locks are transient: resend only those records, after a pause.
            pending = retry
            self.sleep(random.uniform(0, min(4.0, 0.25 * 2**attempt)))
        return [
            o or WriteOutcome(False, errors=[RemoteError("UNKNOWN", "no result")]) for o in outcomes
        ]

    def _send(self, path: str, method: str, body: dict, records: list[dict]) -> list[dict]:
        """One collection call's per-record results. Salesforce deserialises the whole body
        first, so one value of the wrong JSON type fails the request as a whole (400
        JSON_PARSER_ERROR); the records are then sent again in halves until the bad one stands
        alone and fails by itself, so the others are not held back by it."""
        try:
            payload = {**body, "records": records}
            return self._call(self.sf.restful, path, method=method, json=payload) or []
        except RemoteRequestError as exc:
            if exc.code != "JSON_PARSER_ERROR":
                raise
            if len(records) == 1:
                error = {"statusCode": exc.code, "message": exc.message, "fields": []}
                return [{"success": False, "errors": [error]}]
            half = len(records) // 2
            return self._send(path, method, body, records[:half]) + self._send(
                path, method, body, records[half:]
            )


def _remote_row(row: dict) -> RemoteRow:
    remote_id, stamp = row.pop("Id"), row.pop("SystemModstamp")
    return RemoteRow(remote_id=remote_id, values=row, stamp=parse_remote_datetime(stamp))


def _by_id(row: RemoteRow) -> dict:
    return {"Id": row.remote_id, **row.values}


def _outcome(item: dict) -> WriteOutcome:
    errors = [
        RemoteError(
            code=e.get("statusCode") or e.get("errorCode") or "UNKNOWN",
            message=e.get("message", ""),
            fields=tuple(e.get("fields") or ()),
        )
        for e in item.get("errors") or []
    ]
    return WriteOutcome(
        success=bool(item.get("success")),
        remote_id=item.get("id"),
        created=bool(item.get("created")),
        errors=errors,
    )
