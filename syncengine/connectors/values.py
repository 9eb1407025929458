"""Value forms shared by every connector: type compatibility and conversion.

Values are compared in one canonical *remote* form (what the remote holds, normalized), so the
last agreed values, the pulled values and the outgoing Concord values compare exactly. Remote
field types use one vocabulary (string, textarea, email, phone, url, date, datetime, picklist,
boolean, int, double, …): Salesforce's, which Google's flattened fields reuse.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

# Concord property type → the remote field types it can be mapped to.
COMPATIBLE_TYPES: dict[str, frozenset[str]] = {
    "text": frozenset(
        {"string", "textarea", "picklist", "combobox", "phone", "email", "url", "id"}
    ),
    "textarea": frozenset({"textarea", "string"}),
    "number": frozenset({"int", "double", "currency", "percent", "long"}),
    "boolean": frozenset({"boolean"}),
    "date": frozenset({"date"}),
    "datetime": frozenset({"datetime", "date"}),
    "enumeration": frozenset({"picklist", "combobox", "string"}),
    "multiselect": frozenset({"multipicklist"}),
    "email": frozenset({"email", "string"}),
    "phone": frozenset({"phone", "string"}),
    "url": frozenset({"url", "string"}),
    # An owner's id ↔ a reference to a user (Salesforce's OwnerId), translated by the engine.
    "owner": frozenset({"reference"}),
}


def is_compatible(property_type: str, remote_type: str) -> bool:
    """Can a Concord property of this type sync with a remote field of that type?"""
    return remote_type in COMPATIBLE_TYPES.get(property_type, frozenset())


class UnmatchedValue(ValueError):
    """A remote picklist value matches no option of the Concord property."""


def _key(value: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(value).lower())


def _format_datetime(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_remote_datetime(text: str) -> dt.datetime:
    """Salesforce's `2024-01-15T10:30:00.000+0000` (or ISO 8601) → an aware datetime."""
    text = text.strip().replace("Z", "+00:00")
    text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def normalize_remote(value: object, remote_type: str) -> object:
    """A value as Salesforce answered it → the canonical comparable form."""
    if value is None:
        return False if remote_type == "boolean" else None
    if isinstance(value, str):
        if value == "":
            return None
        if remote_type == "datetime":
            return _format_datetime(parse_remote_datetime(value))
        if remote_type == "multipicklist":
            return ";".join(sorted(v for v in value.split(";") if v))
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def to_remote(
    value: object,
    *,
    property_type: str,
    remote_type: str,
    value_map: dict[str, str] | None = None,
    picklist_values: Iterable[str] = (),
) -> object:
    """A Concord stored value → the canonical remote form to send and compare."""
    if value is None or value == "" or value == []:
        return False if remote_type == "boolean" else None
    if property_type in ("enumeration", "multiselect"):
        values = value if isinstance(value, list) else [value]
        mapped = [_to_picklist(str(v), value_map or {}, picklist_values) for v in values]
        return ";".join(sorted(mapped)) if remote_type == "multipicklist" else mapped[0]
    if remote_type == "date" and property_type == "datetime":
        return str(value)[:10]
    if remote_type == "datetime":
        return _format_datetime(parse_remote_datetime(str(value)))
    if remote_type in ("int", "long") and isinstance(value, float):
        return round(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _to_picklist(value: str, value_map: dict[str, str], picklist_values: Iterable[str]) -> str:
    if value in value_map:
        return value_map[value]
    wanted = _key(value)
    for candidate in picklist_values:
        if _key(candidate) == wanted:
            return candidate
    # Sent as it is: a restricted picklist answers INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST,
    # which becomes a Picklists sync error naming the value.
    return value


def to_local(
    value: object,
    *,
    property_type: str,
    remote_type: str,
    value_map: dict[str, str] | None = None,
    options: Iterable[tuple[str, str]] = (),
) -> object:
    """A canonical remote value → a value for Concord's record services (they coerce it)."""
    if value is None:
        return None
    if property_type in ("enumeration", "multiselect"):
        parts = str(value).split(";") if property_type == "multiselect" else [str(value)]
        local = [_from_picklist(p, value_map or {}, list(options)) for p in parts if p]
        return local if property_type == "multiselect" else local[0]
    if property_type == "datetime" and remote_type == "date":
        return f"{value}T00:00:00Z"
    if property_type == "boolean":
        return bool(value)
    return value


def _from_picklist(value: str, value_map: dict[str, str], options: list[tuple[str, str]]) -> str:
    for local, remote in value_map.items():
        if remote == value:
            return local
    wanted = _key(value)
    for option_value, label in options:
        if _key(option_value) == wanted or _key(label) == wanted:
            return option_value
    raise UnmatchedValue(value)
