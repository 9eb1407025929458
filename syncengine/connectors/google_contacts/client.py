"""The Google Contacts connector: google-api-python-client over one metered, retrying caller.

The People API service is built from the discovery document bundled with the library and
pointed at the integration's endpoint (`client_options={"api_endpoint": …}`; the sandbox in
development and tests). Never `new_batch_http_request()`: it ignores the endpoint. Batches use
the People API's own batch methods: 1,000 people per page, 200 contacts per create or update.

Every HTTP attempt asks the meter first and is counted after. 429 RESOURCE_EXHAUSTED and 5xx
are retried with exponential backoff and jitter (Retry-After when given); google-auth refreshes
the access token on a 401, and the new token is saved through the token store.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from urllib.parse import quote

import google.auth.exceptions
import google.oauth2.credentials
import google_auth_httplib2
import httplib2
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from syncengine.connectors.base import (
    AuthError,
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
    TransientError,
    WriteOutcome,
)
from syncengine.connectors.google_contacts import errors as gerrors
from syncengine.connectors.google_contacts import mapping as gm
from syncengine.connectors.interface import Account, BulkWrite, Meter, TokenStore

logger = logging.getLogger(__name__)

API_ENDPOINT = "https://people.googleapis.com/"
PAGE_SIZE = 1000  # connections.list maximum
BATCH_SIZE = 200  # batchCreateContacts / batchUpdateContacts / getBatchGet maximum
BATCH_DELETE_SIZE = 500  # batchDeleteContacts maximum
MAX_ATTEMPTS = 6
MAX_BACKOFF = 60.0
HTTP_TIMEOUT = 60
RETRY_STATUS = {429, 500, 502, 503, 504}


class _StoredCredentials(google.oauth2.credentials.Credentials):
    """google-auth credentials whose refresh goes through the token store (which renews the
    access token at Google and keeps it): AuthorizedHttp calls it on a 401."""

    def __init__(self, tokens: TokenStore) -> None:
        super().__init__(token=tokens.access_token())
        self._tokens = tokens

    def refresh(self, request) -> None:
        self.token = self._tokens.refresh()


class GoogleContactsConnector:
    """The engine's connector interface for one Google account's contacts."""

    codec = gm
    incremental = "cursor"  # sync tokens, which also report deletes
    supports_bulk = False
    batch_size = BATCH_SIZE
    # Per-contact failures the engine sends again next cycle (the record stays dirty).
    transient_codes = gerrors.TRANSIENT_CODES
    conversions: dict[str, str] = {}
    merges: frozenset[str] = frozenset()
    junctions: dict[str, tuple[str, str]] = {}
    read_at: dt.datetime | None = None  # no junction reads
    answered_at: dt.datetime | None = None  # a sync token reports every change, own ones too
    lists_ids = True  # a plain listing of resource names; no delete log beyond sync tokens
    has_users = False  # contacts have no owners: Concord's owner stays as it is

    def __init__(
        self,
        *,
        api_endpoint: str,
        tokens: TokenStore,
        meter: Meter,
        filters: Sequence[str] = (),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        unknown = set(filters) - set(gm.FILTER_GROUPS)
        if unknown:
            raise ValueError(f"unknown Google filters: {sorted(unknown)}")
        self.api_endpoint = api_endpoint
        self.tokens = tokens
        self.meter = meter
        self.required_groups = {gm.FILTER_GROUPS[f] for f in filters}
        self.sleep = sleep
        self._service = None
        self._credentials = None
        # People read in this cycle, by resource name: the base of read-modify-write updates
        # (Google replaces whole fields such as phoneNumbers) and the source of their etags.
        self._people: dict[str, dict] = {}
        self._tombstones: list[dict] = []
        self._relisted = False  # the last pull listed every contact (no token, or it expired)
        self.retries = 0
        self.calls_by_method: Counter[str] = Counter()  # HTTP attempts per API method

    @classmethod
    def record_url(cls, *, endpoint: str, remote_object: str, remote_id: str) -> str:
        """The contact's page in Google Contacts: contacts.google.com/person/<id>, the id being
        the resource name's last part (people/c123… → c123…). The same for every account."""
        person = remote_id.rsplit("/", 1)[-1] if remote_id else ""
        if not person:
            return ""
        return f"https://contacts.google.com/person/{quote(person, safe='')}"

    @classmethod
    def open(cls, account: Account) -> GoogleContactsConnector:
        """The account's connector; the settings' `filters` apply under the "filters" sync rule
        (SPEC G-3). Google's endpoint is public: it needs no CA file."""
        options = account.options
        filters = (options.get("filters") or []) if options.get("sync_rule") == "filters" else []
        return cls(
            api_endpoint=account.endpoint or API_ENDPOINT,
            tokens=account.tokens,
            meter=account.meter,
            filters=list(filters),
            sleep=account.sleep,
        )

    # --- plumbing ------------------------------------------------------------------------------

    @property
    def service(self):
        if self._service is None:
            self._credentials = _StoredCredentials(self.tokens)
            http = google_auth_httplib2.AuthorizedHttp(
                self._credentials,
                # proxy_info=None: a local endpoint must not go through an environment proxy.
                http=httplib2.Http(proxy_info=None, timeout=HTTP_TIMEOUT),
            )
            self._service = build(
                "people",
                "v1",
                http=http,
                static_discovery=True,
                cache_discovery=False,
                client_options={"api_endpoint": self.api_endpoint},
            )
        return self._service

    def _call(self, make_request: Callable[[], object]) -> dict:
        """Run one API request: metered per attempt, retried on 429 and 5xx."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            self.meter.before_call()
            request = make_request()
            self.calls_by_method[request.methodId] += 1
            try:
                answer = request.execute(num_retries=0)
            except google.auth.exceptions.RefreshError as exc:
                raise AuthError(f"Google refused to refresh the access token: {exc}") from exc
            except HttpError as exc:
                self.meter.after_call(org_used=None, org_limit=None)
                status = exc.resp.status
                if status == 401:
                    raise AuthError("Google answered 401 after a token refresh") from exc
                if status not in RETRY_STATUS:
                    raise
                if attempt == MAX_ATTEMPTS:
                    raise TransientError(
                        f"Google answered {status} {attempt} times: "
                        f"{gerrors.error_body(exc).get('message', '')}"
                    ) from exc
                self.retries += 1
                self.sleep(self._backoff(exc, attempt))
                continue
            except (OSError, httplib2.HttpLib2Error) as exc:
                self.meter.after_call(org_used=None, org_limit=None)
                if attempt == MAX_ATTEMPTS:
                    raise TransientError(f"Google unreachable: {exc}") from exc
                self.retries += 1
                self.sleep(self._backoff(None, attempt))
                continue
            self.meter.after_call(org_used=None, org_limit=None)
            return answer
        raise AssertionError("unreachable")

    def _back_off(self, attempt: int) -> None:
        """Wait before sending contacts again that Google refused with a retryable status."""
        self.retries += 1
        self.sleep(self._backoff(None, attempt))

    @staticmethod
    def _backoff(exc: HttpError | None, attempt: int) -> float:
        retry_after = exc.resp.get("retry-after") if exc is not None else None
        if retry_after and str(retry_after).isdigit():
            return min(MAX_BACKOFF, float(retry_after))
        return min(MAX_BACKOFF, 2 ** (attempt - 1)) * (0.5 + random.random() / 2)

    # --- the connector interface ---------------------------------------------------------------

    def describe(self, remote_object: str) -> dict[str, RemoteField]:
        """Google's contact fields as the engine's flat fields (no call: the schema is fixed)."""
        if remote_object != gm.REMOTE_OBJECT:
            raise RemoteRequestError("NOT_FOUND", f"Google Contacts has no {remote_object}", 404)
        return {f.name: RemoteField(name=f.name, type=f.type, label=f.label) for f in gm.FIELDS}

    def pull_changes(
        self,
        remote_object: str,
        fields: Sequence[str],
        since: dt.datetime | None = None,
        cursor: str = "",
        own_writes: OwnWrites | None = None,
    ) -> PulledRows:
        """Contacts changed since the sync token (all contacts without one), as flat rows.

        Google cannot tell who changed a contact: a sync token reports Concord's own writes
        too (`own_writes` is not used), and the merge finds them unchanged.

        Deleted contacts come back as tombstones, kept for `pull_deletes`. An expired token
        falls back to a full listing, as Google asks ("retry without the sync token").
        """
        wanted = set(fields)
        result = PulledRows(iter(()))
        result._rows = self._pull(wanted, cursor or None, result)
        return result

    def _pull(self, wanted: set[str], token: str | None, result: PulledRows) -> Iterator[RemoteRow]:
        self._tombstones = []
        result.full = self._relisted = token is None
        page_token = None
        while True:
            params = {
                "resourceName": "people/me",
                "personFields": gm.READ_MASK,
                "pageSize": PAGE_SIZE,
                "requestSyncToken": True,
            }
            if token:
                params["syncToken"] = token
            if page_token:
                params["pageToken"] = page_token
            try:
                answer = self._call(lambda p=params: self.service.people().connections().list(**p))
            except HttpError as exc:
                if token and gerrors.reason_of(gerrors.error_body(exc)) in (
                    gerrors.EXPIRED_SYNC_TOKEN,
                ):
                    logger.info("Google sync token expired: listing every contact again")
                    token, page_token, result.full = None, None, True
                    self._relisted = True
                    self._tombstones = []
                    continue
                raise RemoteRequestError(
                    gerrors.reason_of(gerrors.error_body(exc)) or "HTTP_ERROR",
                    gerrors.error_body(exc).get("message", str(exc)),
                    exc.resp.status,
                ) from exc
            connections = answer.get("connections") or []
            current: dict[str, dict] | None = None
            if token:
                # Google's sync answers lag writes by minutes ("Writes may have a propagation
                # delay of several minutes for sync requests"): a changed contact can arrive as
                # an older version than Concord itself wrote since, which would undo that write.
                # Its current version is read instead (one batch get per 200 changes).
                current = self._read_current(
                    [
                        p["resourceName"]
                        for p in connections
                        if not (p.get("metadata") or {}).get("deleted")
                    ]
                )
            for person in connections:
                name = person["resourceName"]
                if (person.get("metadata") or {}).get("deleted"):
                    self._people.pop(name, None)
                    self._tombstones.append(RemoteRow(name, stamp=gm.modstamp(person)))
                    continue
                if current is not None:
                    if name not in current:
                        continue  # deleted since: its tombstone comes with a later sync
                    person = current[name]
                if not self.required_groups <= gm.groups_of(person):
                    # Outside the filter (never in it, or it left: a sync answer shows a
                    # contact whose memberships changed like any changed contact).
                    result.excluded += 1
                    result.excluded_ids.append(name)
                    continue
                self._people[name] = person
                flat = gm.person_to_flat(person)
                yield RemoteRow(
                    remote_id=name,
                    values={k: v for k, v in flat.items() if k in wanted},
                    stamp=gm.modstamp(person),
                    etag=person.get("etag", ""),
                )
            page_token = answer.get("nextPageToken")
            if not page_token:
                result.cursor = answer.get("nextSyncToken")
                return

    def pull_deletes(self, remote_object: str, since: dt.datetime | None) -> Iterator[RemoteRow]:
        """The tombstones the last pull met (Google reports deletes within the same sync)."""
        yield from self._tombstones

    def read_delete_log(self, remote_object: str, since: dt.datetime | None) -> DeleteLog:
        """Google logs deletes only as tombstones of sync answers (pulled with the changes):
        complete unless the last pull had to list every contact again (no token, or an
        expired one), when contacts deleted meanwhile left no tombstone."""
        return DeleteLog(complete=not self._relisted)

    def list_remote_ids(self, remote_object: str) -> Iterator[str]:
        """Every contact's resource name: a plain listing (no sync token, so no propagation
        delay), metadata only, 1,000 a page."""
        page_token = None
        while True:
            params = {
                "resourceName": "people/me",
                "personFields": "metadata",
                "pageSize": PAGE_SIZE,
            }
            if page_token:
                params["pageToken"] = page_token
            answer = self._call(lambda p=params: self.service.people().connections().list(**p))
            for person in answer.get("connections") or []:
                if not (person.get("metadata") or {}).get("deleted"):
                    yield person["resourceName"]
            page_token = answer.get("nextPageToken")
            if not page_token:
                return

    def pull_conversions(self, remote_object: str, since: dt.datetime | None) -> list[Conversion]:
        """None: Google converts nothing (`conversions` is empty)."""
        return []

    def pull_merges(self, remote_object: str, since: dt.datetime | None) -> list[RemoteMerge]:
        """None: Google reports no merges (`merges` is empty); a merged contact is a delete."""
        return []

    def read_junctions(
        self,
        junction: str,
        *,
        since: dt.datetime | None = None,
        parent_ids: Sequence[str] | None = None,
    ) -> Iterator[JunctionRow]:
        """None: Google has no junction objects (`junctions` is empty)."""
        return iter(())

    def create_junctions(
        self, junction: str, pairs: Sequence[tuple[str, str]]
    ) -> list[WriteOutcome]:
        """Never called: Google has no junction objects."""
        raise NotImplementedError("Google Contacts has no junction objects")

    def start_bulk_upsert(
        self, remote_object: str, external_id_field: str, records: Sequence[dict]
    ) -> BulkWrite:
        """Never called: Google has no bulk API (`supports_bulk` is False)."""
        raise NotImplementedError("Google Contacts has no bulk API")

    def start_bulk_update(self, remote_object: str, rows: Sequence[RemoteRow]) -> BulkWrite:
        """Never called: Google has no bulk API (`supports_bulk` is False)."""
        raise NotImplementedError("Google Contacts has no bulk API")

    def abort_open_jobs(self, created_by: str) -> list[str]:
        """None: Google has no bulk jobs."""
        return []

    def upsert(
        self, remote_object: str, external_id_field: str, records: Sequence[dict]
    ) -> list[WriteOutcome]:
        """Create contacts (batches of 200). Each carries its Concord id in clientData, so a
        create whose answer was lost is matched, not duplicated, on the next pull.

        Google fails a whole batch for one invalid contact and names the invalid ones by index:
        those become their errors and the rest is sent again. A contact named with a retryable
        status (UNAVAILABLE, ABORTED, …) is sent again after a backoff, up to MAX_ATTEMPTS."""
        outcomes: list[WriteOutcome | None] = [None] * len(records)
        for start in range(0, len(records), BATCH_SIZE):
            pending = list(range(start, min(len(records), start + BATCH_SIZE)))
            attempts: Counter[int] = Counter()
            later: list[int] = []
            while pending or later:
                if not pending:
                    pending, later = later, []
                    self._back_off(max(attempts[i] for i in pending))
                body = {
                    "contacts": [
                        {"contactPerson": gm.flat_to_new_person(records[i])} for i in pending
                    ],
                    "readMask": gm.READ_MASK,
                }
                try:
                    answer = self._call(
                        lambda b=body: self.service.people().batchCreateContacts(body=b)
                    )
                except HttpError as exc:
                    error = gerrors.error_body(exc)
                    named = {
                        pending[int(key)]: status
                        for key, status in gerrors.batch_contact_errors(error).items()
                        if key.isdigit() and int(key) < len(pending)
                    }
                    if not named:
                        failure = WriteOutcome(success=False, errors=[gerrors.remote_error(error)])
                        for i in pending:
                            outcomes[i] = failure
                        pending = []
                        continue
                    for i, status in named.items():
                        attempts[i] += 1
                        if gerrors.is_retryable(status) and attempts[i] < MAX_ATTEMPTS:
                            later.append(i)
                            continue
                        outcomes[i] = WriteOutcome(
                            success=False, errors=[gerrors.remote_error(status)]
                        )
                    pending = [i for i in pending if i not in named]
                    continue
                created_people = answer.get("createdPeople") or []
                for i, created in zip(pending, created_people, strict=False):
                    person = created.get("person")
                    if person:
                        self._people[person["resourceName"]] = person
                        outcomes[i] = WriteOutcome(
                            success=True, remote_id=person["resourceName"], created=True
                        )
                    else:
                        error = gerrors.remote_error(created.get("status") or {})
                        outcomes[i] = WriteOutcome(success=False, errors=[error])
                pending = []
        # A contact missing from an answer was not created: it is left out (None), so it stays
        # pending and is sent again, matched by its Concord id if it was created after all.
        return outcomes  # type: ignore[return-value]

    def update(self, remote_object: str, rows: Sequence[RemoteRow]) -> list[WriteOutcome]:
        """Apply flat changes (batches of 200) onto the latest Person with its etag. People not
        read in this cycle are read first (one batch get per 200); a stale etag re-reads the
        contact and retries once."""
        outcomes: dict[str, WriteOutcome] = {}
        for start in range(0, len(rows), BATCH_SIZE):
            chunk = {r.remote_id: r.values for r in rows[start : start + BATCH_SIZE]}
            self._read_missing([name for name in chunk if name not in self._people], outcomes)
            pending = {name: ch for name, ch in chunk.items() if name not in outcomes}
            stale = self._batch_update(pending, outcomes)
            if stale:
                for name in stale:
                    self._people.pop(name, None)
                self._read_missing(stale, outcomes)
                self._batch_update(
                    {n: chunk[n] for n in stale if n not in outcomes}, outcomes, last_try=True
                )
        return [outcomes[r.remote_id] for r in rows]

    def _read_missing(self, names: list[str], outcomes: dict[str, WriteOutcome]) -> None:
        """Read people before writing to them; one not found becomes its write's outcome."""
        for name, failure in self._batch_get(names).items():
            if isinstance(failure, dict):
                continue
            outcomes[name] = WriteOutcome(success=False, errors=[failure])

    def _read_current(self, names: list[str]) -> dict[str, dict]:
        """The current version of people (those found), by resource name."""
        return {n: p for n, p in self._batch_get(names).items() if isinstance(p, dict)}

    def _batch_get(self, names: list[str]) -> dict[str, dict | RemoteError]:
        """getBatchGet in chunks of 200: each person read (kept for writes) or its error."""
        found: dict[str, dict | RemoteError] = {}
        for start in range(0, len(names), BATCH_SIZE):
            chunk = names[start : start + BATCH_SIZE]
            answer = self._call(
                lambda c=chunk: self.service.people().getBatchGet(
                    resourceNames=c, personFields=gm.READ_MASK
                )
            )
            for response in answer.get("responses") or []:
                person = response.get("person")
                name = response.get("requestedResourceName") or (person or {}).get("resourceName")
                if person:
                    self._people[name] = person
                    found[name] = person
                elif name:
                    found[name] = gerrors.remote_error(response.get("status") or {})
        return found

    def _batch_update(
        self, changes: dict[str, dict], outcomes: dict[str, WriteOutcome], last_try: bool = False
    ) -> list[str]:
        """batchUpdateContacts; returns the names that failed on a stale etag.

        Google fails the whole batch when one contact is invalid (a stale etag, too large, …)
        and names the invalid ones: they are set aside (stale ones for a re-read) and the rest
        is sent again, so one bad contact never holds back the other 199. One named with a
        retryable status is sent again after a backoff, up to MAX_ATTEMPTS."""
        pending = dict(changes)
        stale: list[str] = []
        attempts: Counter[str] = Counter()
        later: dict[str, dict] = {}
        while pending or later:
            if not pending:
                pending, later = later, {}
                self._back_off(max(attempts[n] for n in pending))
            bodies, mask = {}, set()
            for name, flat in pending.items():
                person, touched = gm.apply_flat(self._people[name], flat)
                bodies[name], mask = person, mask | touched
            if not mask:
                outcomes.update({n: WriteOutcome(success=True, remote_id=n) for n in pending})
                pending = {}
                continue
            # The mask applies to every contact: each body carries all masked fields.
            contacts = {
                name: {
                    "resourceName": name,
                    "etag": self._people[name].get("etag"),
                    **{f: person.get(f) or [] for f in sorted(mask)},
                }
                for name, person in bodies.items()
            }
            body = {
                "contacts": contacts,
                "updateMask": ",".join(sorted(mask)),
                "readMask": gm.READ_MASK,
            }
            try:
                answer = self._call(
                    lambda b=body: self.service.people().batchUpdateContacts(body=b)
                )
            except HttpError as exc:
                error = gerrors.error_body(exc)
                named = {
                    name: status
                    for name, status in gerrors.batch_contact_errors(error).items()
                    if name in pending
                }
                if not named:
                    failure = WriteOutcome(success=False, errors=[gerrors.remote_error(error)])
                    outcomes.update({n: failure for n in pending})
                    pending = {}
                    continue
                for name, status in named.items():
                    flat = pending.pop(name)
                    attempts[name] += 1
                    if gerrors.is_stale_etag(status) and not last_try:
                        stale.append(name)
                    elif gerrors.is_retryable(status) and attempts[name] < MAX_ATTEMPTS:
                        later[name] = flat
                    else:
                        outcomes[name] = WriteOutcome(
                            success=False, errors=[gerrors.remote_error(status)]
                        )
                continue
            results = answer.get("updateResult") or {}
            for name in pending:
                person = (results.get(name) or {}).get("person")
                if person:
                    self._people[name] = person
                    outcomes[name] = WriteOutcome(success=True, remote_id=name)
                else:
                    status = (results.get(name) or {}).get("status") or {"message": "no answer"}
                    outcomes[name] = WriteOutcome(
                        success=False, errors=[gerrors.remote_error(status)]
                    )
            pending = {}
        return stale

    def delete(self, ids: Sequence[str]) -> list[WriteOutcome]:
        """Move contacts to Google's Trash (batchDeleteContacts, up to 500 per call); one
        already gone counts as deleted.

        Google refuses the whole batch with 404 when one name is unknown (a contact deleted
        already, e.g. by a call whose answer was lost): the batch is read (getBatchGet) and
        only the contacts still there are sent again."""
        outcomes: dict[str, WriteOutcome] = {}
        for start in range(0, len(ids), BATCH_DELETE_SIZE):
            chunk = list(dict.fromkeys(ids[start : start + BATCH_DELETE_SIZE]))
            for last_try in (False, True):
                try:
                    if chunk:
                        self._call(
                            lambda c=chunk: self.service.people().batchDeleteContacts(
                                body={"resourceNames": c}
                            )
                        )
                except HttpError as exc:
                    if exc.resp.status == 404 and not last_try:
                        present = self._batch_get(chunk)
                        gone = [
                            n
                            for n in chunk
                            if isinstance(present.get(n), RemoteError)
                            and present[n].code == "NOT_FOUND"
                        ]
                        outcomes.update({n: WriteOutcome(success=True, remote_id=n) for n in gone})
                        chunk = [n for n in chunk if n not in gone]
                        continue
                    failure = WriteOutcome(
                        success=False, errors=[gerrors.remote_error(gerrors.error_body(exc))]
                    )
                    outcomes.update({n: failure for n in chunk})
                    break
                for name in chunk:
                    self._people.pop(name, None)
                    outcomes[name] = WriteOutcome(success=True, remote_id=name)
                break
        return [outcomes[name] for name in ids]
