"""What connectors return and raise, in no remote system's terms.

The interface itself (the `Connector` protocol, `Meter`, `TokenStore`, `Codec`) is in
`syncengine/connectors/interface.py`; the registry of connectors by integration kind in
`syncengine/connectors/registry.py`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field


class ConnectorError(Exception):
    """A remote call failed."""


class TransientError(ConnectorError):
    """Worth retrying later: timeouts, 5xx, row locks; retries ran out for now."""


class BudgetExhausted(ConnectorError):
    """The API allocation (Concord's share or the org's limit) is used up for now."""


class AuthError(ConnectorError):
    """The tokens are dead: the integration needs to be reconnected."""


class RemoteRequestError(ConnectorError):
    """A permanent error answered for a whole request (not per record)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


@dataclass(frozen=True, slots=True)
class RemoteError:
    """One error the remote answered for one record (its code, message and fields)."""

    code: str
    message: str
    fields: tuple[str, ...] = ()


@dataclass(slots=True)
class WriteOutcome:
    """The result of writing one record remotely, in request order."""

    success: bool
    remote_id: str | None = None
    created: bool = False
    errors: list[RemoteError] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RemoteField:
    """One field of a remote object as its describe answers it (shared type vocabulary)."""

    name: str
    type: str
    label: str = ""
    createable: bool = True
    updateable: bool = True
    nillable: bool = True
    restricted_picklist: bool = False
    picklist_values: tuple[str, ...] = ()
    reference_to: tuple[str, ...] = ()


@dataclass(slots=True)
class RemoteRow:
    """One remote record: its id, when it last changed (and its etag, where the remote has
    one), and its field values as the remote holds them (not yet normalized).

    Pulls yield them (a delete carries no values); updates take them (no stamp)."""

    remote_id: str
    values: dict[str, object] = field(default_factory=dict)
    stamp: dt.datetime | None = None
    etag: str = ""


class PulledRows:
    """The rows of one pull; after iteration, the cursor to resume from (remotes that pull
    incrementally with a cursor) and the records the remote's filters left out (read, but
    outside the filter: their links go dormant)."""

    def __init__(self, rows: Iterable[RemoteRow]) -> None:
        self._rows = iter(rows)
        self.cursor: str | None = None
        self.excluded = 0
        self.excluded_ids: list[str] = []
        self.full = False  # the listing was a full one (no cursor, or an expired one)

    def __iter__(self) -> Iterator[RemoteRow]:
        return self._rows


@dataclass(frozen=True, slots=True)
class RemoteUser:
    """A user of the remote system (a Salesforce User), whom records can be assigned to."""

    remote_id: str
    name: str
    email: str
    is_active: bool
    stamp: dt.datetime  # when the user last changed


@dataclass(frozen=True, slots=True)
class OwnWrites:
    """Records Concord's remote user created and last changed: those created at or after
    `start` and last changed at or before `end`, for each (start, end) span."""

    user_id: str
    spans: tuple[tuple[dt.datetime, dt.datetime], ...]


@dataclass(frozen=True, slots=True)
class JunctionRow:
    """One junction record (e.g. a contact role): its id, the two records it links, when it
    last changed, and whether it was deleted (incremental reads report deletes too)."""

    remote_id: str
    parent_id: str
    child_id: str
    stamp: dt.datetime | None = None
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class Conversion:
    """A record the remote converted into a record of another object (a Lead into a Contact)."""

    remote_id: str
    converted_id: str


@dataclass(frozen=True, slots=True)
class DeleteLog:
    """What a remote's delete log says about one object since a time: the ids deleted, whether
    the log covers the whole span (False: deletes may have been missed, compare the ids), and
    the time to read on from next time (None: keep the previous one)."""

    ids: tuple[str, ...] = ()
    complete: bool = True
    until: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class RemoteMerge:
    """A record the remote merged away (deleted) into a master record of the same object."""

    remote_id: str
    master_id: str
    stamp: dt.datetime | None = None
