"""The connector interface: what the engine asks of a remote system, and nothing more.

A connector is a class with the capability attributes below (class attributes, so the engine
reads them before it connects) and the methods of `Connector`. The engine is typed against
this protocol and never probes a connector for features; a capability a remote lacks is
declared as absent (no bulk API, no conversions, no junctions) and its methods are not called.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal, Protocol

from syncengine.connectors.base import (
    Conversion,
    DeleteLog,
    JunctionRow,
    OwnWrites,
    PulledRows,
    RemoteField,
    RemoteMerge,
    RemoteRow,
    RemoteUser,
    WriteOutcome,
)

Incremental = Literal["stamp", "cursor"]


class Meter(Protocol):
    """Counts remote calls against the API budget; refuses one that would exceed it."""

    calls: int  # calls made through this meter

    def before_call(self) -> None:
        """Count a call about to be sent; raises BudgetExhausted if the budget is spent."""

    def after_call(self, *, org_used: int | None, org_limit: int | None) -> None:
        """Correct the org's usage from what an answer reports (None: not reported)."""

    def remaining(self) -> int | None:
        """Calls left in the budget (None: no limit known)."""

    def flush(self) -> None:
        """Store what the remote last reported about its limit."""


class BulkWrite(Protocol):
    """A write of many records that the remote works on after it was sent, while the engine
    goes on (the engine sends the next one before it asks for this one's outcomes)."""

    def outcomes(self) -> dict[str, WriteOutcome]:
        """Wait for the write to end; outcomes by key value (missing: not processed)."""


class TokenStore(Protocol):
    """Where a connector reads the integration's OAuth access token and renews it."""

    def access_token(self) -> str:
        """The stored access token."""

    def refresh(self) -> str:
        """Renew the access token with the refresh token, store it and return it; raises
        AuthError when the remote refuses (the integration needs reconnecting)."""


@dataclass(frozen=True, slots=True)
class Account:
    """One connected account of a remote system, as the services hand it to its connector."""

    endpoint: str  # the API's base URL; blank: the system's public one
    options: Mapping[str, object]  # the integration's settings: each connector reads its own
    tokens: TokenStore
    meter: Meter
    ca_file: str = ""  # the CA of a private endpoint (the local sandbox)
    sleep: Callable[[float], None] = time.sleep  # the pause between retries


class Codec(Protocol):
    """A connector's mapping knowledge (its `mapping` module): value forms, keys, errors."""

    EXTERNAL_ID_FIELD: str  # the remote field holding the Concord record id
    # remote object → [(Concord property, remote field, "exact" | "domain")], tried in order
    MATCH_KEYS: Mapping[str, list[tuple[str, str, str]]]
    UnmatchedValue: type[ValueError]
    # Per-record codes by which the remote refuses a record's owner (they name no field).
    OWNER_REFUSED_CODES: frozenset[str]

    def normalize_remote(self, value: object, remote_type: str) -> object: ...

    def parse_remote_datetime(self, text: str) -> dt.datetime: ...

    def is_compatible(self, property_type: str, remote_type: str) -> bool: ...

    def to_local(self, value: object, **kwargs: object) -> object: ...

    def to_remote(self, value: object, **kwargs: object) -> object: ...

    def domain_of(self, url: object) -> str: ...

    def classify(self, code: str, *, reference: bool = True) -> str:
        """The sync-error category of an error code (reference: it concerns a reference)."""


class Connector(Protocol):
    """A remote system as the engine sees it: flat records of named objects."""

    # --- capabilities (declared, never probed) ----------------------------------------------
    codec: ClassVar[Codec]
    # "stamp": pulls ask for changes since a time (the watermark); "cursor": they resume from
    # the token the previous pull answered (and report deletes with it).
    incremental: ClassVar[Incremental]
    supports_bulk: ClassVar[bool]  # start_bulk_upsert / _update, abort_open_jobs work
    batch_size: ClassVar[int]  # records per upsert, update, create or delete call
    transient_codes: ClassVar[frozenset[str]]  # per-record codes worth sending again
    # object that the remote converts → the object it becomes (Lead → Contact)
    conversions: ClassVar[Mapping[str, str]]
    # objects whose merges the remote reports (losers deleted pointing at their master)
    merges: ClassVar[frozenset[str]]
    # junction object named by a reference mapping → (parent field, child field)
    junctions: ClassVar[Mapping[str, tuple[str, str]]]
    # list_remote_ids and read_delete_log work: the engine reconciles (compares the ids it
    # links with the remote's) to find deletes incremental pulls cannot see.
    lists_ids: ClassVar[bool]
    # read_users works: the remote's records have owners, its users (Salesforce's OwnerId).
    has_users: ClassVar[bool]

    meter: Meter
    # The remote's clock at its last answer (None: unknown, or of no use to the engine).
    answered_at: dt.datetime | None
    # The remote's clock when it answered the first page of the last `read_junctions` (None:
    # unknown): a junction watermark that moves with time, not only with changes.
    read_at: dt.datetime | None

    @classmethod
    def open(cls, account: Account) -> Connector:
        """The connector of one connected account."""

    @classmethod
    def record_url(cls, *, endpoint: str, remote_object: str, remote_id: str) -> str:
        """Where a person sees a remote record in the remote's own UI ("" if nowhere).

        `endpoint` is the account's (the integration's instance URL); no call is made."""

    # --- reads ------------------------------------------------------------------------------
    def describe(self, remote_object: str) -> dict[str, RemoteField]:
        """The fields the integration user can see, by name."""

    def pull_changes(
        self,
        remote_object: str,
        fields: Sequence[str],
        since: dt.datetime | None = None,
        cursor: str = "",
        own_writes: OwnWrites | None = None,
    ) -> PulledRows:
        """Records changed at or after `since` (stamp) or since `cursor` (cursor), oldest
        first, with the given fields; where the remote can tell who last changed a record,
        without those of `own_writes` (Concord's own, whose values it knows)."""

    def pull_deletes(self, remote_object: str, since: dt.datetime | None) -> Iterable[RemoteRow]:
        """Records deleted at or after `since` (no values; stamp = when)."""

    def pull_conversions(
        self, remote_object: str, since: dt.datetime | None
    ) -> Iterable[Conversion]:
        """Records of a converting object converted at or after `since`."""

    def pull_merges(self, remote_object: str, since: dt.datetime | None) -> Iterable[RemoteMerge]:
        """Records of a merging object merged away at or after `since`, with their master."""

    def read_junctions(
        self,
        junction: str,
        *,
        since: dt.datetime | None = None,
        parent_ids: Sequence[str] | None = None,
    ) -> Iterator[JunctionRow]:
        """Every record of a junction object; with `since`, those changed or deleted at or
        after it (deleted ones flagged); with `parent_ids`, those of these parents only."""

    def read_users(self, since: dt.datetime | None) -> Iterator[RemoteUser]:
        """The remote's users changed at or after `since` (all without it), oldest first."""

    def list_remote_ids(self, remote_object: str) -> Iterator[str]:
        """The id of every live record of the object, as cheaply in calls as the remote allows."""

    def read_delete_log(self, remote_object: str, since: dt.datetime | None) -> DeleteLog:
        """Records deleted since `since` that the remote still logs (even purged ones), and
        whether the log is complete for that span (None: nothing known, not complete)."""

    # --- writes (outcomes in request order) -------------------------------------------------
    def upsert(
        self, remote_object: str, external_id_field: str, records: Sequence[dict]
    ) -> list[WriteOutcome | None]:
        """Create or update by external id (None: not processed, send again later)."""

    def update(self, remote_object: str, rows: Sequence[RemoteRow]) -> list[WriteOutcome]:
        """Write changed values onto records by remote id."""

    def start_bulk_upsert(
        self, remote_object: str, external_id_field: str, records: Sequence[dict]
    ) -> BulkWrite:
        """Send an upsert of many records as one job; its outcomes by external id."""

    def start_bulk_update(self, remote_object: str, rows: Sequence[RemoteRow]) -> BulkWrite:
        """Send an update of many records as one job; its outcomes by remote id."""

    def abort_open_jobs(self, created_by: str) -> list[str]:
        """Abort bulk jobs a stopped worker left open; their ids."""

    def create_junctions(
        self, junction: str, pairs: Sequence[tuple[str, str]]
    ) -> list[WriteOutcome]:
        """Create junction records linking (parent id, child id) pairs."""

    def delete(self, ids: Sequence[str]) -> list[WriteOutcome]:
        """Delete records by remote id; one already gone counts as deleted."""
