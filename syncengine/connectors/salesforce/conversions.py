"""Lead conversion: Salesforce turns a Lead into a Contact (and an Account) once qualified.

The engine relinks the Concord record of a converted Lead to the Contact it became; this module
is how converted Leads are found (a SOQL query on the Lead's conversion fields).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

from syncengine.connectors.base import Conversion
from syncengine.connectors.salesforce.mapping import soql_datetime

# The object that converts → the object its records become.
CONVERSIONS = {"Lead": "Contact"}


def pull(
    query: Callable[[str], Iterator[dict]], remote_object: str, since: dt.datetime | None
) -> list[Conversion]:
    """Leads converted (changed at or after `since`) with the Contact each became."""
    where = "IsConverted = TRUE" + (
        f" AND SystemModstamp >= {soql_datetime(since)}" if since else ""
    )
    rows = query(
        f"SELECT Id, ConvertedContactId, ConvertedAccountId FROM {remote_object} WHERE {where}"
    )
    return [
        Conversion(remote_id=r["Id"], converted_id=r.get("ConvertedContactId") or "") for r in rows
    ]
