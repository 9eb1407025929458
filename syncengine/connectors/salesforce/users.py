"""Salesforce users, the people records are assigned to (OwnerId): read-only.

One query reads the users changed at or after a stamp (every user the first time), oldest
first; the connector's query follows its pages (2,000 rows each), one API call a page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

from syncengine.connectors.base import RemoteUser
from syncengine.connectors.salesforce.mapping import soql_datetime
from syncengine.connectors.values import parse_remote_datetime

FIELDS = "Id, Name, Email, IsActive, SystemModstamp"


def read(query: Callable[..., Iterator[dict]], since: dt.datetime | None) -> Iterator[RemoteUser]:
    """Users changed at or after `since` (all of them without it), oldest first."""
    where = f" WHERE SystemModstamp >= {soql_datetime(since)}" if since else ""
    for row in query(f"SELECT {FIELDS} FROM User{where} ORDER BY SystemModstamp ASC, Id ASC"):
        yield RemoteUser(
            remote_id=row["Id"],
            name=row.get("Name") or "",
            email=(row.get("Email") or "").strip().lower(),
            is_active=bool(row.get("IsActive")),
            stamp=parse_remote_datetime(row["SystemModstamp"]),
        )
