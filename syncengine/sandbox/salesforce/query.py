"""Running SOQL against the store: field resolution, filtering, ordering and query cursors."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import ids, soql
from .errors import ApiError, invalid_type
from .ids import IdGenerator
from .org import ObjectDef, OrgDef
from .store import Record, Store

MAX_OPEN_CURSORS = 10  # per user in Salesforce; opening an 11th releases the oldest
CURSOR_IDLE_SECONDS = 15 * 60
MIN_BATCH, MAX_BATCH = 200, 2000
MAX_OFFSET = 2000
# The type a filter value must have, as Salesforce names it in its message.
_SOAP_TYPE = {"datetime": "dateTime", "date": "date", "boolean": "boolean", "int": "int",
              "double": "double", "currency": "double", "percent": "double", "id": "id",
              "reference": "id"}  # fmt: skip
_NUMBER_TYPES = {"int", "double", "currency", "percent"}

_SOQL_FIELD_HINT = (
    "If you are attempting to use a custom field, be sure to append the '__c' after the custom "
    "field name. Please reference your WSDL or the describe call for the appropriate names."
)


def malformed_query(message: str) -> ApiError:
    return ApiError("MALFORMED_QUERY", message)


def at_column(text: str, position: int, message: str) -> str:
    """Salesforce's form for an error at a place in a query: the query, a caret under the
    place, ``ERROR at Row:1:Column:N`` (1-based), then the message."""
    position = max(0, min(position, len(text)))
    line_start = text.rfind("\n", 0, position) + 1
    row = text.count("\n", 0, position) + 1
    line_end = text.find("\n", position)
    line = text[line_start : line_end if line_end >= 0 else len(text)]
    column = position - line_start + 1
    return f"\n{line}\n{' ' * (column - 1)}^\nERROR at Row:{row}:Column:{column}\n{message}"


def no_such_column(path: str, sobject: str, text: str = "", position: int = -1) -> ApiError:
    message = f"No such column '{path}' on entity '{sobject}'. {_SOQL_FIELD_HINT}"
    if position >= 0:
        message = at_column(text, position, message)
    return ApiError("INVALID_FIELD", message)


def bad_filter_value(field: Column, text: str, position: int) -> ApiError:
    """A literal of the wrong kind for its field (quoted datetime, number for text, ...)."""
    soap_type = _SOAP_TYPE.get(field.type, "string")
    quoting = "should be enclosed" if soap_type in ("string", "id") else "should not be enclosed"
    return ApiError(
        "INVALID_FIELD",
        at_column(
            text,
            position,
            f"value of filter criterion for field '{field.field}' must be of type {soap_type} "
            f"and {quoting} in quotes",
        ),
    )


@dataclass
class Column:
    """A selected path, resolved: ``relationship`` is set for parent paths like Account.Name."""

    path: str  # canonical, e.g. "Account.Name"
    field: str  # canonical field name on the final object
    relationship: str | None
    reference_field: str | None
    get: Callable[[Record], Any]
    type: str = "string"  # the field's describe type


@dataclass
class QueryResult:
    obj: ObjectDef
    columns: list[Column]
    rows: list[Record]
    is_count: bool
    total: int


@dataclass
class Cursor:
    records: list[dict[str, Any]]
    total: int
    touched: float
    batch_size: int  # fixed when the query runs, like Salesforce's locator


class QueryEngine:
    def __init__(self, store: Store, org: OrgDef) -> None:
        self.store = store
        self.org = org
        self._cursors: collections.OrderedDict[str, Cursor] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._ids = IdGenerator()

    # --- resolution ----------------------------------------------------------------------------

    def resolve(self, obj: ObjectDef, path: str) -> Column:
        parts = path.split(".")
        if len(parts) == 1:
            f = obj.field(path)
            if f is None or not f.visible:
                raise no_such_column(path, obj.name)
            name = f.name
            return Column(name, name, None, None, lambda r: r.get(name), f.type)
        if len(parts) != 2:
            raise malformed_query(f"Only one level of parent relationship is supported: {path}")
        ref = obj.relationship(parts[0])
        if ref is None or not ref.visible:
            raise no_such_column(path, obj.name)
        ref_name = ref.name
        targets = [self.org.objects[t] for t in ref.reference_to if t in self.org.objects]
        target_field = None
        for target in targets:
            candidate = target.field(parts[1])
            if candidate is not None and candidate.visible:
                target_field = candidate
                break
        if target_field is None:
            raise no_such_column(parts[1], targets[0].name if targets else parts[0])
        field_name = target_field.name

        def get_parent(record: Record) -> Any:
            parent_id = record.get(ref_name)
            parent = self.store.get(parent_id) if parent_id else None
            return parent.get(field_name) if parent else None

        return Column(
            f"{ref.relationship_name}.{field_name}",
            field_name,
            ref.relationship_name,
            ref_name,
            get_parent,
            target_field.type,
        )

    # --- execution -----------------------------------------------------------------------------

    def _resolve_at(self, obj: ObjectDef, path: str, text: str, query: soql.Query) -> Column:
        """Resolve a path; an unknown one is reported where it stands in the query."""
        try:
            return self.resolve(obj, path)
        except ApiError as exc:
            if exc.code != "INVALID_FIELD":
                raise
            raise ApiError(
                exc.code, at_column(text, query.positions.get(path, 0), exc.message)
            ) from exc

    def _check_values(
        self, condition: soql.Condition, columns: dict[str, Column], text: str
    ) -> soql.Condition:
        """Refuse filter values of the wrong kind, as Salesforce does, and put id literals in
        their 18-char form (a 15-char id matches; ids compare case-sensitively)."""
        if isinstance(condition, soql.BoolOp):
            parts = tuple(self._check_values(p, columns, text) for p in condition.parts)
            return soql.BoolOp(condition.op, parts)
        if isinstance(condition, soql.Not):
            return soql.Not(self._check_values(condition.part, columns, text))
        if isinstance(condition, soql.Compare) and isinstance(condition.operand, soql.Literal):
            value = self._checked(columns[condition.path], condition.operand, condition, text)
            return soql.Compare(condition.path, condition.op, value, condition.position)
        if isinstance(condition, soql.InList):
            column = columns[condition.path]
            values = tuple(self._checked(column, v, condition, text) for v in condition.values)
            return soql.InList(condition.path, values, condition.negated, condition.position)
        return condition

    def _checked(
        self, column: Column, literal: soql.Literal, where: Any, text: str
    ) -> soql.Literal:
        kind, ftype = literal.kind, column.type
        if kind == "null":
            return literal
        if ftype == "datetime":
            ok = kind in ("datetime", "date_keyword")
        elif ftype == "date":
            ok = kind in ("date", "date_keyword")
        elif ftype == "boolean":
            ok = kind == "boolean"
        elif ftype in _NUMBER_TYPES:
            ok = kind == "number"
        else:  # text, picklists, ids and references take quoted strings
            ok = kind == "string"
        if not ok:
            raise bad_filter_value(column, text, where.position)
        if ftype in ("id", "reference"):
            try:
                canonical = ids.to_18(literal.value)
            except ids.MalformedIdError as exc:
                raise ApiError(
                    "INVALID_QUERY_FILTER_OPERATOR",
                    at_column(text, where.position, f"invalid ID field: {literal.value}"),
                ) from exc
            return soql.Literal(soql.IdValue(canonical), kind, literal.position)
        return literal

    def run(self, text: str, include_deleted: bool = False) -> QueryResult:
        try:
            query = soql.parse_query(text)
        except soql.SoqlSyntaxError as exc:
            raise malformed_query(at_column(text, exc.position, str(exc))) from exc
        if query.offset > MAX_OFFSET:
            raise ApiError(
                "NUMBER_OUTSIDE_VALID_RANGE", f"Maximum SOQL offset allowed is {MAX_OFFSET}"
            )
        obj = self.org.sobject(query.sobject)
        if obj is None or "read" not in obj.permissions:
            error = invalid_type(query.sobject)
            position = query.positions.get(query.sobject, 0)
            raise ApiError(error.code, at_column(text, position, error.message))
        columns = [self._resolve_at(obj, path, text, query) for path in query.fields]
        if not query.is_count and not columns:
            raise malformed_query("SELECT needs at least one field")
        getters: dict[str, Callable[[Record], Any]] = {}
        if query.where is not None:
            filtered = {
                path: self._resolve_at(obj, path, text, query)
                for path in soql.condition_paths(query.where)
            }
            getters = {path: column.get for path, column in filtered.items()}
            query.where = self._check_values(query.where, filtered, text)
        order = [
            (self._resolve_at(obj, item.path, text, query).get, item) for item in query.order_by
        ]
        matches = None if query.where is None else soql.compile_condition(query.where, getters.get)
        with self.store.lock:
            candidates = list(self.store.iter_sobject(obj.name))
        rows = []
        for record in candidates:
            if record.get("IsDeleted") and not include_deleted:
                continue
            if matches is not None and not matches(record):
                continue
            rows.append(record)
        for get, item in reversed(order):

            def key(record: Record, get: Callable[[Record], Any] = get, item: Any = item) -> Any:
                value = get(record)
                null_rank = 0 if (item.nulls_last == item.descending) else 1
                if value is None:
                    return (null_rank, (0, ""))
                return (1 - null_rank, soql.sort_key(value))

            rows.sort(key=key, reverse=item.descending)
        rows = rows[query.offset :]
        if query.limit is not None:
            rows = rows[: query.limit]
        return QueryResult(obj, columns, rows, query.is_count, len(rows))

    def render(self, result: QueryResult, record: Record, version: str) -> dict[str, Any]:
        """A record as the REST API returns it, with nested parent objects."""
        obj_name = result.obj.name
        body: dict[str, Any] = {
            "attributes": {
                "type": obj_name,
                "url": f"/services/data/v{version}/sobjects/{obj_name}/{record['Id']}",
            }
        }
        for column in result.columns:
            if column.relationship is None:
                body[column.field] = record.get(column.field)
                continue
            parent_id = record.get(column.reference_field or "")
            if not parent_id:
                body[column.relationship] = None
                continue
            nested = body.get(column.relationship)
            if nested is None:
                parent_obj = self.org.sobject_for_id(parent_id)
                parent_type = parent_obj.name if parent_obj else "User"
                nested = body[column.relationship] = {
                    "attributes": {
                        "type": parent_type,
                        "url": f"/services/data/v{version}/sobjects/{parent_type}/{parent_id}",
                    }
                }
            nested[column.field] = column.get(record)
        return body

    # --- REST paging ---------------------------------------------------------------------------

    def first_page(
        self, text: str, include_deleted: bool, version: str, batch_size: int | None
    ) -> dict[str, Any]:
        result = self.run(text, include_deleted)
        if result.is_count:
            return {"totalSize": result.total, "done": True, "records": []}
        records = [self.render(result, r, version) for r in result.rows]
        size = max(MIN_BATCH, min(MAX_BATCH, batch_size or self.org.query_batch_size))
        if len(records) <= size:
            return {"totalSize": result.total, "done": True, "records": records}
        cursor_id = self._ids.new_id("01g")
        with self._lock:
            self._cursors[cursor_id] = Cursor(records, result.total, time.monotonic(), size)
            while len(self._cursors) > MAX_OPEN_CURSORS:
                self._cursors.popitem(last=False)
        return self._page(cursor_id, 0, size, version)

    def _page(self, cursor_id: str, offset: int, size: int, version: str) -> dict[str, Any]:
        cursor = self._cursors[cursor_id]
        cursor.touched = time.monotonic()
        records = cursor.records[offset : offset + size]
        end = offset + len(records)
        body: dict[str, Any] = {"totalSize": cursor.total, "done": end >= len(cursor.records)}
        if not body["done"]:
            body["nextRecordsUrl"] = f"/services/data/v{version}/query/{cursor_id}-{end}"
        else:
            self._cursors.pop(cursor_id, None)
        body["records"] = records
        return body

    def next_page(self, locator: str, version: str, batch_size: int | None) -> dict[str, Any]:
        cursor_id, _, offset_text = locator.rpartition("-")
        with self._lock:
            cursor = self._cursors.get(cursor_id)
            if cursor is not None and time.monotonic() - cursor.touched > CURSOR_IDLE_SECONDS:
                self._cursors.pop(cursor_id)
                cursor = None
            if cursor is None or not offset_text.isdigit():
                raise ApiError("INVALID_QUERY_LOCATOR", "invalid query locator", status=400)
            return self._page(cursor_id, int(offset_text), cursor.batch_size, version)

    def close_all(self) -> None:
        with self._lock:
            self._cursors.clear()
