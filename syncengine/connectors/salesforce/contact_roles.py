"""Junction objects: records that link two records, such as an OpportunityContactRole (a
contact's role on a deal). A reference mapping named after a junction object syncs them with
Concord associations, both ways (the engine's `references` module holds the merge)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from syncengine.connectors.base import JunctionRow

# Junction object → (parent field, child field), e.g. a contact role links a deal to a contact.
JUNCTIONS = {"OpportunityContactRole": ("OpportunityId", "ContactId")}


def read(query: Callable[[str], Iterator[dict]], junction: str) -> Iterator[JunctionRow]:
    """Every record of a junction object that links two records."""
    parent_field, child_field = JUNCTIONS[junction]
    for row in query(f"SELECT Id, {parent_field}, {child_field} FROM {junction}"):
        if row.get(parent_field) and row.get(child_field):
            yield JunctionRow(row["Id"], row[parent_field], row[child_field])


def records(junction: str, pairs: Sequence[tuple[str, str]]) -> list[dict]:
    """New junction records for (parent id, child id) pairs."""
    parent_field, child_field = JUNCTIONS[junction]
    return [{parent_field: parent, child_field: child} for parent, child in pairs]
