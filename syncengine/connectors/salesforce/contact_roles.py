"""Junction objects: records that link two records, such as an OpportunityContactRole (a
contact's role on a deal). A reference mapping named after a junction object syncs them with
Concord associations, both ways (the engine's `references` module holds the merge).

Reads are incremental: the roles changed or deleted since a stamp come from one queryAll
(deleted roles stay in the recycle bin with IsDeleted = true, and a role's SystemModstamp
moves when it is deleted), so a cycle with no role changes reads no role rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence

from syncengine.connectors.base import JunctionRow
from syncengine.connectors.salesforce.mapping import parse_remote_datetime, soql_datetime

# Junction object → (parent field, child field), e.g. a contact role links a deal to a contact.
JUNCTIONS = {"OpportunityContactRole": ("OpportunityId", "ContactId")}
# Parent ids per "WHERE parent IN (…)" query: 21 characters each, far below SOQL's limit.
PARENTS_PER_QUERY = 500


def read(
    query: Callable[..., Iterator[dict]],
    junction: str,
    *,
    since: dt.datetime | None = None,
    parent_ids: Sequence[str] | None = None,
) -> Iterator[JunctionRow]:
    """Records of a junction object that link two records: all of them, those changed or
    deleted at or after `since` (deleted ones flagged), or those of the given parents."""
    parent_field, child_field = JUNCTIONS[junction]
    select = f"SELECT Id, {parent_field}, {child_field}, SystemModstamp, IsDeleted FROM {junction}"
    if since is not None:
        rows = query(
            f"{select} WHERE SystemModstamp >= {soql_datetime(since)} "
            "ORDER BY SystemModstamp ASC, Id ASC",
            include_deleted=True,
        )
        yield from _rows(rows, parent_field, child_field)
    elif parent_ids is not None:
        ids = list(parent_ids)
        for start in range(0, len(ids), PARENTS_PER_QUERY):
            quoted = ", ".join(f"'{i}'" for i in ids[start : start + PARENTS_PER_QUERY])
            rows = query(f"{select} WHERE {parent_field} IN ({quoted})")
            yield from _rows(rows, parent_field, child_field)
    else:
        yield from _rows(query(select), parent_field, child_field)


def _rows(rows: Iterator[dict], parent_field: str, child_field: str) -> Iterator[JunctionRow]:
    for row in rows:
        deleted = bool(row.get("IsDeleted"))
        if deleted or (row.get(parent_field) and row.get(child_field)):
            stamp = row.get("SystemModstamp")
            yield JunctionRow(
                row["Id"],
                row.get(parent_field) or "",
                row.get(child_field) or "",
                stamp=parse_remote_datetime(stamp) if stamp else None,
                deleted=deleted,
            )


def records(junction: str, pairs: Sequence[tuple[str, str]]) -> list[dict]:
    """New junction records for (parent id, child id) pairs."""
    parent_field, child_field = JUNCTIONS[junction]
    return [{parent_field: parent, child_field: child} for parent, child in pairs]
