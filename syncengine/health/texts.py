"""Sync errors in words a person reads: records by name, details as sentences, not data.

Pure functions over loaded rows (no queries): the health page, the error admin, the API's
human-readable fields, the CSV export and the digest emails share them.
"""

from __future__ import annotations

from django.utils.translation import ngettext

from crm.models import Record

# Detail keys the engine and the connectors store, and how people call them.
DETAIL_LABELS = {
    "fields": "Fields",
    "value": "Value",
    "statusCode": "Code",
    "target_remote_id": "Points to remote record",
    "duplicate_id": "Duplicate of remote record",
}


def record_name(record: Record | None) -> str:
    """A record as people name it: its type and name, "Deal Acme renewal" ("Deal #488" only
    for a record without a name)."""
    if record is None:
        return ""
    singular = record.object_type.label_singular
    name = record.display_name
    return f"{singular} {name}" if name else f"{singular} #{record.pk}"


def count_of(n: int, singular: str, plural: str) -> str:
    """ "1 record", "2 records": a count with its noun in the right form."""
    return f"{n} {ngettext(singular, plural, n)}"


def _value_text(value: object) -> str:
    if value is None or value == "":
        return "(blank)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple, set)):
        return ", ".join(_value_text(v) for v in value) or "(none)"
    if isinstance(value, dict):
        return "; ".join(f"{_label(k)}: {_value_text(v)}" for k, v in value.items())
    return str(value)


def _label(key: str) -> str:
    return DETAIL_LABELS.get(key) or key.replace("_", " ").capitalize()


def details_text(details: dict | None, *, code: str = "") -> str:
    """An error's details as one line of "Label: value" parts, never a printed dict or list.

    The status code is left out when it only repeats the error's own code.
    """
    if not details:
        return ""
    if not isinstance(details, dict):  # stored by hand or by an old version: still words
        return _value_text(details)
    parts = []
    for key, value in details.items():
        if key == "statusCode" and value == code:
            continue
        if value in (None, "", [], {}):
            continue
        parts.append(f"{_label(key)}: {_value_text(value)}")
    return " · ".join(parts)
