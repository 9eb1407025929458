"""The engine's small connector interface and the normalized results connectors return."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol


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
    name: str
    type: str
    label: str = ""
    createable: bool = True
    updateable: bool = True
    nillable: bool = True
    restricted_picklist: bool = False
    picklist_values: tuple[str, ...] = ()
    reference_to: tuple[str, ...] = ()


class Connector(Protocol):
    """What the engine asks of a remote system."""

    def describe(self, remote_object: str) -> dict[str, RemoteField]: ...

    def pull_changes(
        self, remote_object: str, fields: Sequence[str], since: object | None
    ) -> Iterator[dict]: ...

    def pull_deletes(self, remote_object: str, since: object | None) -> Iterator[dict]: ...

    def upsert(
        self, remote_object: str, external_id_field: str, records: Sequence[dict]
    ) -> list[WriteOutcome]: ...

    def update(self, remote_object: str, records: Sequence[dict]) -> list[WriteOutcome]: ...

    def query(self, soql: str, *, include_deleted: bool = False) -> Iterator[dict]: ...

    def create(self, remote_object: str, records: Sequence[dict]) -> list[WriteOutcome]: ...

    def delete(self, ids: Sequence[str]) -> list[WriteOutcome]: ...
