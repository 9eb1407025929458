"""Salesforce's JSON deserialiser: request bodies become typed sObjects before any record is
processed, so a value of the wrong JSON type (a string for a double, "31/01/2024" for a date)
fails the whole request with 400 JSON_PARSER_ERROR — in an sObject Collections call too, where
no record is written and no per-record results come back.

The message is Jackson's: ``Cannot deserialize instance of double from VALUE_STRING value abc or
request may be missing a required field at [line:1, column:42]`` (restforce#619, regican/
Salesforce#2), the column being where the value starts in the body.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from .errors import ApiError
from .org import FieldDef, OrgDef

_NUMBER_TYPES = {"int": "int", "double": "double", "currency": "double", "percent": "double"}
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$"
)


def _token(value: Any) -> str:
    """Jackson's name for the JSON token a value was read from."""
    if isinstance(value, bool):
        return "VALUE_TRUE" if value else "VALUE_FALSE"
    if isinstance(value, int):
        return "VALUE_NUMBER_INT"
    if isinstance(value, float):
        return "VALUE_NUMBER_FLOAT"
    if isinstance(value, dict):
        return "START_OBJECT"
    if isinstance(value, list):
        return "START_ARRAY"
    return "VALUE_STRING"


def _target(f: FieldDef, value: Any) -> str | None:
    """The type the value cannot be read as, or None when it can."""
    if value is None:
        return None
    if f.type in _NUMBER_TYPES:
        if isinstance(value, bool | dict | list):
            return _NUMBER_TYPES[f.type]
        if isinstance(value, str):
            try:
                float(value)
            except ValueError:
                return _NUMBER_TYPES[f.type]
        return None
    if f.type == "boolean":
        ok = isinstance(value, bool) or (
            isinstance(value, str) and value.lower() in ("true", "false", "")
        )
        return None if ok else "boolean"
    if f.type == "date":
        if not isinstance(value, str) or (value and not _DATE_RE.match(value[:10])):
            return "date"
        if value:
            try:
                dt.date.fromisoformat(value[:10])
            except ValueError:
                return "date"
        return None
    if f.type == "datetime":
        if not isinstance(value, str) or (value and not _DATETIME_RE.match(value)):
            return "datetime"
        return None
    if isinstance(value, dict | list):  # text, picklists, ids: any scalar is read as text
        return "string"
    return None


def _position(text: str, key: str, occurrence: int) -> tuple[int, int]:
    """(line, column), 1-based, of the value of the ``occurrence``-th ``"key":`` in the body."""
    matches = list(re.finditer(rf'"{re.escape(key)}"\s*:\s*', text))
    if not matches:
        return 1, 1
    offset = matches[min(occurrence, len(matches) - 1)].end()
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def check_types(org: OrgDef, records: list[tuple[str | None, Any]], body: bytes) -> None:
    """Refuse the request if any record's value cannot be deserialised into its field."""
    text = body.decode("utf-8", "replace")
    seen: dict[str, int] = {}
    for sobject, values in records:
        if not isinstance(values, dict):
            continue
        obj = org.sobject(sobject) if sobject else None
        for key, value in values.items():
            occurrence = seen.get(key, 0)
            seen[key] = occurrence + 1
            f = obj.field(key) if obj is not None and key != "attributes" else None
            if f is None:
                continue  # unknown fields are each record's INVALID_FIELD, reported later
            target = _target(f, value)
            if target is None:
                continue
            line, column = _position(text, key, occurrence)
            shown = {"START_OBJECT": "{", "START_ARRAY": "["}.get(_token(value), value)
            if isinstance(shown, bool):
                shown = "true" if shown else "false"
            raise ApiError(
                "JSON_PARSER_ERROR",
                f"Cannot deserialize instance of {target} from {_token(value)} value {shown} "
                f"or request may be missing a required field at [line:{line}, column:{column}]",
            )
