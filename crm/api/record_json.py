"""A page of records rendered as JSON by PostgreSQL, the bytes passed through untouched.

The records list is the API's hottest read. Building each record in Python (a model, its JSON
properties decoded, filtered to what the caller may see, encoded again) costs several times
the query itself; PostgreSQL can build the same objects while it reads the rows. The result is
the same JSON value as `RecordSerializer` gives, with the same keys in the same order: the
record's keys as the serializer names them, its properties in jsonb's own order (the order
the Python path reads them in). Only insignificant whitespace differs.

Used only where it is exactly equivalent (`renders_in_database`): PostgreSQL, the plain JSON
renderer, and UTC (the API's zone, so times format as DRF's ISO 8601 with "Z"). Elsewhere, and
for the browsable API, the serializer answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from django.db import connection
from django.db.models import Expression, F, QuerySet, TextField
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request

# The annotation holding a record's JSON text in the page's rows.
ROW = "record_json"


def renders_in_database(request: Request) -> bool:
    """May this request's page be built by PostgreSQL and still be what DRF would render?"""
    renderer = getattr(request, "accepted_renderer", None)
    return (
        connection.vendor == "postgresql"
        # Exactly DRF's JSON renderer: not the browsable API, and no `; indent=…` asked for.
        and type(renderer) is JSONRenderer
        and request.accepted_media_type == JSONRenderer.media_type
        and timezone.get_current_timezone_name() == "UTC"
    )


def record_rows(
    queryset: QuerySet, *, object_type_name: str, property_names: Iterable[str]
) -> QuerySet:
    """The records as {"id", ROW} rows, ROW their JSON text showing only `property_names`."""
    return queryset.values(
        "id",
        **{ROW: RecordJson(object_type_name=object_type_name, property_names=property_names)},
    )


def page_body(*, next_link: str | None, previous_link: str | None, rows: Sequence[str]) -> bytes:
    """The cursor page envelope DRF writes ({"next", "previous", "results"}) around the rows."""
    links = json.dumps({"next": next_link, "previous": previous_link}, separators=(",", ":"))
    body = f'{links[:-1]},"results":[{",".join(rows)}]}}'
    # As DRF's renderer: these two are valid JSON but end a line in JavaScript.
    return body.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode()


class RecordJson(Expression):
    """A record as `RecordSerializer` shows it, as JSON text built by PostgreSQL.

    json_build_object (not jsonb's) keeps the keys in the serializer's order. The properties
    stay jsonb, so they keep the order the Python path reads them in.
    """

    output_field = TextField()

    def __init__(self, *, object_type_name: str, property_names: Iterable[str]) -> None:
        super().__init__()
        self.object_type_name = object_type_name
        self.property_names = sorted(property_names)

    # The record's columns the object is built from: model field name -> column.
    FIELDS = ("id", "properties", "created_at", "updated_at", "archived_at", "merged_into_id")

    def resolve_expression(self, query=None, allow_joins=True, reuse=None, summarize=False, **kw):
        resolved = self.copy()
        resolved.columns = {
            name: F(name).resolve_expression(query, allow_joins, reuse, summarize)
            for name in self.FIELDS
        }
        return resolved

    def as_sql(self, compiler, connection):
        sql = {}
        for name, column in self.columns.items():
            sql[name], column_params = compiler.compile(column)
            if column_params:  # a plain column never has any; ours are placed by position
                raise ValueError(f"unexpected parameters for the column {name}")
        template = f"""json_build_object(
            'id', {sql["id"]},
            'object_type', %s::text,
            'properties', COALESCE(
                (SELECT jsonb_object_agg(kv.key, kv.value)
                 FROM jsonb_each({sql["properties"]}) AS kv WHERE kv.key = ANY(%s::text[])),
                '{{}}'::jsonb),
            'created_at', {_iso_utc(sql["created_at"])},
            'updated_at', {_iso_utc(sql["updated_at"])},
            'archived', {sql["archived_at"]} IS NOT NULL,
            'merged_into', {sql["merged_into_id"]}
        )::text"""
        return template, [self.object_type_name, self.property_names]


def _iso_utc(column: str) -> str:
    """A timestamptz as DRF writes it in UTC: isoformat() (microseconds only when not zero)
    with "+00:00" written "Z"."""
    utc = f"({column} AT TIME ZONE 'UTC')"
    return (
        f"to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') "
        f"|| CASE WHEN to_char({utc}, 'US') = '000000' THEN '' ELSE '.' || to_char({utc}, 'US') "
        "END || 'Z'"
    )
