"""The set-based recompute of sync properties: one query a batch of target records.

For a batch of targets the query joins the associations of the chosen labels (in whichever
direction each definition runs) to the active source records, ranks them per target by the
source record's creation (first or last created, id breaking ties between records created in
the same statement) and returns each target's current value beside the value to copy. Only
the targets whose value differs are written, through the record services, so that every change
is validated, stamped, audited and reaches integrations through the change hook.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import connection
from django.db.models import Q

from crm.bulk_sql import is_postgresql
from crm.models import Association, AssociationDefinition, Record, SyncPropertyConfig

# Targets recomputed per statement and per write: large enough to amortise the round trips,
# small enough that one batch's row locks and audit rows stay modest.
BATCH_SIZE = 5000

_RECORD = Record._meta.db_table
_ASSOCIATION = Association._meta.db_table


@dataclass(frozen=True, slots=True)
class Route:
    """How a sync property reaches source records from its targets."""

    config_id: int
    property_id: int
    property_name: str
    target_type_id: int
    source_type_id: int
    source_name: str
    last_created: bool
    # Definitions whose from side is the target (the source is the to side), and the reverse.
    target_is_from: tuple[int, ...]
    target_is_to: tuple[int, ...]

    @property
    def source(self) -> str:
        return f"sync_property:{self.property_id}"

    def definition_ids(self) -> set[int]:
        return {*self.target_is_from, *self.target_is_to}


def eligible_definitions(target_type_id: int, source_type_id: int) -> list[AssociationDefinition]:
    """Every association definition between the two object types, in either direction."""
    return list(
        AssociationDefinition.objects.filter(
            Q(from_object_type_id=target_type_id, to_object_type_id=source_type_id)
            | Q(from_object_type_id=source_type_id, to_object_type_id=target_type_id)
        )
        .select_related("from_object_type", "to_object_type")
        .order_by("pk")
    )


def load_routes(configs: Iterable[SyncPropertyConfig]) -> list[Route]:
    """Resolve configs (with property, source_property and definitions loaded) into routes."""
    configs = list(configs)
    chosen: dict[int, list[AssociationDefinition]] = {}
    pairs = {(c.property.object_type_id, c.source_object_type_id) for c in configs}
    eligible = {pair: eligible_definitions(*pair) for pair in pairs}
    routes = []
    for config in configs:
        target_type_id = config.property.object_type_id
        definitions = eligible[(target_type_id, config.source_object_type_id)]
        if not config.all_labels:
            wanted = {d.pk for d in config.definitions.all()}
            definitions = [d for d in definitions if d.pk in wanted]
        chosen[config.pk] = definitions
        routes.append(
            Route(
                config_id=config.pk,
                property_id=config.property_id,
                property_name=config.property.name,
                target_type_id=target_type_id,
                source_type_id=config.source_object_type_id,
                source_name=config.source_property.name,
                last_created=config.criterion == SyncPropertyConfig.Criterion.LAST_CREATED,
                target_is_from=tuple(
                    d.pk for d in definitions if d.from_object_type_id == target_type_id
                ),
                target_is_to=tuple(
                    d.pk for d in definitions if d.to_object_type_id == target_type_id
                ),
            )
        )
    return routes


def load_route(config: SyncPropertyConfig) -> Route:
    return load_routes(
        SyncPropertyConfig.objects.filter(pk=config.pk)
        .select_related("property", "source_property")
        .prefetch_related("definitions")
    )[0]


def targets_of_sources(route: Route, source_ids: Sequence[int]) -> list[int]:
    """The target records associated (within the route's labels) with any of the sources."""
    if not source_ids:
        return []
    sql = (
        f"SELECT a.from_record_id FROM {_ASSOCIATION} a "
        f"WHERE {_in('a.definition_id')} AND {_in('a.to_record_id')} "
        "UNION "
        f"SELECT a.to_record_id FROM {_ASSOCIATION} a "
        f"WHERE {_in('a.definition_id')} AND {_in('a.from_record_id')}"
    )
    params = [
        _ids_param(route.target_is_from),
        _ids_param(source_ids),
        _ids_param(route.target_is_to),
        _ids_param(source_ids),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return sorted(row[0] for row in cursor.fetchall())


def compute_changes(route: Route, target_ids: Sequence[int]) -> dict[int, object]:
    """{target id: value to write (None clears)} for the active targets whose value is stale.

    One statement for the whole batch, whatever the number of associations.
    """
    if not target_ids:
        return {}
    order = "DESC" if route.last_created else "ASC"
    sql = f"""
        WITH t AS (
            SELECT r.id, {_json_text("r.properties")} AS cur
            FROM {_RECORD} r
            WHERE {_in("r.id")} AND r.object_type_id = %s AND r.archived_at IS NULL
        ),
        links AS (
            SELECT a.from_record_id AS target_id, a.to_record_id AS source_id
            FROM {_ASSOCIATION} a
            WHERE {_in("a.definition_id")} AND a.from_record_id IN (SELECT id FROM t)
            UNION ALL
            SELECT a.to_record_id, a.from_record_id
            FROM {_ASSOCIATION} a
            WHERE {_in("a.definition_id")} AND a.to_record_id IN (SELECT id FROM t)
        ),
        ranked AS (
            SELECT l.target_id, {_json_text("s.properties")} AS val,
                   ROW_NUMBER() OVER (
                       PARTITION BY l.target_id ORDER BY s.created_at {order}, s.id {order}
                   ) AS rn
            FROM links l JOIN {_RECORD} s ON s.id = l.source_id
            WHERE s.archived_at IS NULL AND s.object_type_id = %s
        )
        SELECT t.id, t.cur, ranked.val
        FROM t LEFT JOIN ranked ON ranked.target_id = t.id AND ranked.rn = 1
    """
    params = [
        route.property_name,
        _ids_param(target_ids),
        route.target_type_id,
        _ids_param(route.target_is_from),
        _ids_param(route.target_is_to),
        route.source_name,
        route.source_type_id,
    ]
    changes: dict[int, object] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for target_id, current, new in cursor.fetchall():
            current, new = _load(current), _load(new)
            if new in ("", []):
                new = None
            if current != new:
                changes[target_id] = new
    return changes


def lock_records(record_ids: Sequence[int]) -> None:
    """Lock target rows in id order before computing, so a later recompute of the same
    targets waits for this one and then reads what it wrote (no stale value wins)."""
    if not record_ids or not is_postgresql():
        return  # SQLite transactions here are IMMEDIATE: writers are already serialised
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {_RECORD} WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
            [sorted(record_ids)],
        )


def _json_text(column: str) -> str:
    # The value as JSON text on both databases, so numbers, booleans and lists come back
    # exactly as stored (the key is a validated property name, passed as a parameter).
    if is_postgresql():
        return f"({column} -> %s)::text"
    return f"({column} -> %s)"


def _in(column: str) -> str:
    # One parameter for any number of ids: an array on PostgreSQL, a JSON array on SQLite
    # (whose limit on bound parameters a batch would exceed).
    if is_postgresql():
        return f"{column} = ANY(%s::bigint[])"
    return f"{column} IN (SELECT value FROM json_each(%s))"


def _ids_param(ids: Iterable[int]):
    ids = [int(i) for i in ids]
    return ids if is_postgresql() else json.dumps(ids)


def _load(raw):
    if raw is None:
        return None
    return json.loads(raw) if isinstance(raw, str) else raw
