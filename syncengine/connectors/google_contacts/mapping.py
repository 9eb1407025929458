"""Google Contacts mapping knowledge: a Person as flat fields, default mappings, matching.

The engine syncs flat records ({field: value}); a People API Person is a bag of lists (names,
emailAddresses, phoneNumbers, …). This module is the one place that folds a Person into flat
fields and writes flat changes back into a Person, so the engine's merge, mappings and errors
work on Google exactly as on Salesforce.

Phone rule (SPEC G-4): the first number is `phone`; further numbers sync only when typed mobile
(`mobilePhone`) or fax (`fax`). Custom text fields (userDefined) and labels (user contact
groups) are never read or written.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass

from syncengine.connectors.google_contacts.errors import classify  # noqa: F401  (codec name)
from syncengine.connectors.values import (  # noqa: F401  (the engine's codec names)
    UnmatchedValue,
    is_compatible,
    normalize_remote,
    parse_remote_datetime,
    to_local,
    to_remote,
)

REMOTE_OBJECT = "Person"
# The Concord record id travels in Person.clientData under this key: a contact Concord created
# is recognised on the next pull even if the answer to its create was lost (no duplicates).
EXTERNAL_ID_FIELD = "concordId"
OWNER_REFUSED_CODES: frozenset[str] = frozenset()  # contacts have no owners
MATCH_KEYS = {REMOTE_OBJECT: [("email", "email", "exact")]}

MY_CONTACTS = "contactGroups/myContacts"
STARRED = "contactGroups/starred"
FILTER_GROUPS = {"my_contacts": MY_CONTACTS, "starred": STARRED}


@dataclass(frozen=True, slots=True)
class FlatField:
    name: str
    type: str  # the shared remote type vocabulary (syncengine/connectors/values.py)
    label: str
    person_field: str  # the Person field it lives in


FIELDS: tuple[FlatField, ...] = (
    FlatField("givenName", "string", "First name", "names"),
    FlatField("familyName", "string", "Last name", "names"),
    FlatField("middleName", "string", "Middle name", "names"),
    FlatField("email", "email", "Email (first address)", "emailAddresses"),
    FlatField("phone", "phone", "Phone (first number)", "phoneNumbers"),
    FlatField("mobilePhone", "phone", "Mobile phone (another number typed mobile)", "phoneNumbers"),
    FlatField("fax", "phone", "Fax (another number typed fax)", "phoneNumbers"),
    FlatField("company", "string", "Company name", "organizations"),
    FlatField("jobTitle", "string", "Job title", "organizations"),
    FlatField("department", "string", "Department", "organizations"),
    FlatField("streetAddress", "string", "Street address", "addresses"),
    FlatField("city", "string", "City", "addresses"),
    FlatField("region", "string", "State/Region", "addresses"),
    FlatField("postalCode", "string", "Postal code", "addresses"),
    FlatField("country", "string", "Country", "addresses"),
    FlatField("website", "url", "Website (first URL)", "urls"),
    FlatField("nickname", "string", "Nickname", "nicknames"),
    FlatField("notes", "textarea", "Notes", "biographies"),
    FlatField("birthday", "date", "Birthday", "birthdays"),
    FlatField(EXTERNAL_ID_FIELD, "string", "Concord record id", "clientData"),
)
BY_NAME = {f.name: f for f in FIELDS}
PERSON_FIELDS = sorted({f.person_field for f in FIELDS})
# What every read asks for: the mapped Person fields, memberships (filters) and metadata (etag,
# update time, deleted flag).
READ_MASK = ",".join([*PERSON_FIELDS, "memberships", "metadata"])

# The eleven default mappings (SPEC G-4); they cannot be edited or removed.
DEFAULT_FIELD_MAPPINGS: tuple[tuple[str, str], ...] = (
    ("firstname", "givenName"),
    ("lastname", "familyName"),
    ("email", "email"),
    ("phone", "phone"),
    ("mobilephone", "mobilePhone"),
    ("fax", "fax"),
    ("company", "company"),
    ("jobtitle", "jobTitle"),
    ("address", "streetAddress"),
    ("city", "city"),
    ("zip", "postalCode"),
)

# Output-only keys Google computes; a Person written back must not carry them.
_OUTPUT_ONLY = {
    "metadata",
    "displayName",
    "displayNameLastFirst",
    "unstructuredName",
    "formattedType",
    "canonicalForm",
    "formattedValue",
    "contentType",
}
_NAME_KEYS = {"givenName": "givenName", "familyName": "familyName", "middleName": "middleName"}
_ORG_KEYS = {"company": "name", "jobTitle": "title", "department": "department"}
_ADDRESS_KEYS = {
    "streetAddress": "streetAddress",
    "city": "city",
    "region": "region",
    "postalCode": "postalCode",
    "country": "country",
}
_SINGLE_VALUE = {"website": "urls", "nickname": "nicknames", "notes": "biographies"}


def is_fax(item: dict) -> bool:
    return "fax" in str(item.get("type", "")).lower()


def is_mobile(item: dict) -> bool:
    return str(item.get("type", "")).lower() == "mobile"


def _phone_slots(numbers: list[dict]) -> dict[str, int]:
    """Which index of phoneNumbers each flat phone field reads and writes."""
    slots: dict[str, int] = {}
    if numbers:
        slots["phone"] = 0
    for i, item in enumerate(numbers[1:], start=1):
        if "mobilePhone" not in slots and is_mobile(item):
            slots["mobilePhone"] = i
        elif "fax" not in slots and is_fax(item):
            slots["fax"] = i
    return slots


def _first(person: dict, field: str) -> dict:
    items = person.get(field) or []
    return items[0] if items else {}


def _text(value: object) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def _birthday(item: dict) -> str | None:
    date = item.get("date") or {}
    if date.get("year") and date.get("month") and date.get("day"):
        return f"{date['year']:04d}-{date['month']:02d}-{date['day']:02d}"
    return None


def modstamp(person: dict) -> dt.datetime:
    """When the contact last changed: its CONTACT source's updateTime."""
    for source in (person.get("metadata") or {}).get("sources") or []:
        if source.get("type") == "CONTACT" and source.get("updateTime"):
            return parse_remote_datetime(source["updateTime"])
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def groups_of(person: dict) -> set[str]:
    return {
        (m.get("contactGroupMembership") or {}).get("contactGroupResourceName", "")
        for m in person.get("memberships") or []
    }


def person_to_flat(person: dict) -> dict:
    """Every flat field of a Person (None where it has no value)."""
    name, org, address = (_first(person, f) for f in ("names", "organizations", "addresses"))
    numbers = person.get("phoneNumbers") or []
    slots = _phone_slots(numbers)
    flat: dict[str, object] = {key: _text(name.get(k)) for key, k in _NAME_KEYS.items()}
    flat["email"] = _text(_first(person, "emailAddresses").get("value"))
    for key in ("phone", "mobilePhone", "fax"):
        flat[key] = _text(numbers[slots[key]].get("value")) if key in slots else None
    flat.update({key: _text(org.get(k)) for key, k in _ORG_KEYS.items()})
    flat.update({key: _text(address.get(k)) for key, k in _ADDRESS_KEYS.items()})
    flat.update({key: _text(_first(person, f).get("value")) for key, f in _SINGLE_VALUE.items()})
    flat["birthday"] = _birthday(_first(person, "birthdays"))
    flat[EXTERNAL_ID_FIELD] = next(
        (
            _text(item.get("value"))
            for item in person.get("clientData") or []
            if item.get("key") == EXTERNAL_ID_FIELD
        ),
        None,
    )
    return flat


def _strip(value: object) -> object:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in _OUTPUT_ONLY}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _set_in_first(items: list[dict], key: str, value: object) -> list[dict]:
    """Set one key of the first item (creating it); an item left empty is dropped."""
    items = items or [{}]
    first = dict(items[0])
    if value is None:
        first.pop(key, None)
    else:
        first[key] = value
    rest = items[1:]
    return ([first] if any(v not in (None, "") for v in first.values()) else []) + rest


def _set_single(items: list[dict], value: object) -> list[dict]:
    """Replace the first item's value (the rest stay); None removes the first item."""
    if value is None:
        return items[1:]
    return [{**(items[0] if items else {}), "value": value}, *items[1:]]


def _set_phone(numbers: list[dict], key: str, value: object) -> list[dict]:
    numbers = [dict(n) for n in numbers]
    slot = _phone_slots(numbers).get(key)
    if slot is not None:
        if value is None:
            del numbers[slot]
        else:
            numbers[slot]["value"] = value
        return numbers
    if value is None:
        return numbers
    if key == "phone":
        return [{"value": value, "type": "work"}, *numbers]
    if not numbers:  # a mobile or fax number needs a first number before it to stay itself
        return [{"value": value, "type": "mobile" if key == "mobilePhone" else "workFax"}]
    return [*numbers, {"value": value, "type": "mobile" if key == "mobilePhone" else "workFax"}]


def apply_flat(person: dict, changes: dict) -> tuple[dict, set[str]]:
    """A Person with flat changes applied (output-only keys stripped) and the Person fields
    changed (the update mask). Items Concord does not map (other emails, other numbers,
    userDefined, memberships) stay as they are."""
    out = _strip(copy.deepcopy(person))
    touched: set[str] = set()
    for key, value in changes.items():
        field = BY_NAME.get(key)
        if field is None:
            continue
        pf = field.person_field
        items = list(out.get(pf) or [])
        if key in _NAME_KEYS:
            items = _set_in_first(items, _NAME_KEYS[key], value)
        elif key == "email":
            items = _set_single(items, value)
        elif key in ("phone", "mobilePhone", "fax"):
            items = _set_phone(items, key, value)
        elif key in _ORG_KEYS:
            items = _set_in_first(items, _ORG_KEYS[key], value)
        elif key in _ADDRESS_KEYS:
            items = _set_in_first(items, _ADDRESS_KEYS[key], value)
        elif key in _SINGLE_VALUE:
            items = _set_single(items, value)
        elif key == "birthday":
            if value is None:
                items = []
            else:
                year, month, day = (int(p) for p in str(value)[:10].split("-"))
                items = [{"date": {"year": year, "month": month, "day": day}}]
        elif key == EXTERNAL_ID_FIELD:
            items = [i for i in items if i.get("key") != EXTERNAL_ID_FIELD]
            if value is not None:
                items.append({"key": EXTERNAL_ID_FIELD, "value": str(value)})
        out[pf] = items
        touched.add(pf)
    return out, touched


def flat_to_new_person(values: dict) -> dict:
    """A new contact from flat values (only fields with a value)."""
    person, _ = apply_flat({}, {k: v for k, v in values.items() if v is not None})
    return {k: v for k, v in person.items() if v}


def domain_of(url: object) -> str:  # the engine's codec name; Google matches by email only
    return str(url or "").lower()
