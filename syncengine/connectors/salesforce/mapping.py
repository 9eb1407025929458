"""Salesforce mapping knowledge: default mappings, type compatibility, value conversion.

Values are compared in one canonical *remote* form (what Salesforce holds, normalized), so the
last agreed values, the pulled values and the outgoing Concord values compare exactly.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

EXTERNAL_ID_FIELD = "Concord_Id__c"
# Reference mappings named after a junction object, not a field: each junction record links
# (parent field) to (child field), e.g. an OpportunityContactRole links a deal to a contact.
JUNCTIONS = {"OpportunityContactRole": ("OpportunityId", "ContactId")}

# Concord property type → the Salesforce field types it can be mapped to.
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
}


def is_compatible(property_type: str, remote_type: str) -> bool:
    """Can a Concord property of this type sync with a Salesforce field of that type?"""
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


def soql_datetime(value: dt.datetime) -> str:
    """A SOQL datetime literal (unquoted, UTC)."""
    return _format_datetime(value)


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


# --- default mappings -----------------------------------------------------------------------

R_TWO_WAY = "two_way"
R_PREFER_REMOTE = "prefer_remote_unless_blank"

INDUSTRY_MAP = {
    "INFORMATION_TECHNOLOGY_AND_SERVICES": "Technology",
    "COMPUTER_SOFTWARE": "Technology",
    "ACCOUNTING": "Finance",
    "BANKING": "Banking",
    "CONSTRUCTION": "Construction",
    "EDUCATION_MANAGEMENT": "Education",
    "FOOD_BEVERAGES": "Food & Beverage",
    "HOSPITAL_HEALTH_CARE": "Healthcare",
    "INSURANCE": "Insurance",
    "LOGISTICS_AND_SUPPLY_CHAIN": "Transportation",
    "MARKETING_AND_ADVERTISING": "Media",
    "RETAIL": "Retail",
    "TELECOMMUNICATIONS": "Telecommunications",
}
ACCOUNT_TYPE_MAP = {
    "PROSPECT": "Prospect",
    "PARTNER": "Partner",
    "RESELLER": "Customer - Channel",
    "OTHER": "Other",
    "VENDOR": "Other",
}
DEAL_STAGE_MAP = {
    "appointmentscheduled": "Prospecting",
    "qualifiedtobuy": "Qualification",
    "presentationscheduled": "Needs Analysis",
    "decisionmakerboughtin": "Value Proposition",
    "contractsent": "Proposal/Price Quote",
    "closedwon": "Closed Won",
    "closedlost": "Closed Lost",
}
TASK_STATUS_MAP = {
    "not_started": "Not Started",
    "in_progress": "In Progress",
    "waiting": "Waiting on someone else",
    "completed": "Completed",
    "deferred": "Deferred",
}
TASK_PRIORITY_MAP = {"medium": "Normal", "none": "Normal", "low": "Low", "high": "High"}

# (object type, remote object, order, enabled, [(property, field, rule, value map)],
#  [(reference field, association (from, to, label), target remote object)])
DEFAULT_MAPPINGS = [
    (
        "companies",
        "Account",
        10,
        True,
        [
            ("name", "Name", R_TWO_WAY, {}),
            ("website", "Website", R_TWO_WAY, {}),
            ("phone", "Phone", R_TWO_WAY, {}),
            ("industry", "Industry", R_PREFER_REMOTE, INDUSTRY_MAP),
            ("type", "Type", R_PREFER_REMOTE, ACCOUNT_TYPE_MAP),
            ("numberofemployees", "NumberOfEmployees", R_TWO_WAY, {}),
            ("annualrevenue", "AnnualRevenue", R_TWO_WAY, {}),
            ("description", "Description", R_TWO_WAY, {}),
            ("address", "BillingStreet", R_TWO_WAY, {}),
            ("city", "BillingCity", R_TWO_WAY, {}),
            ("state", "BillingState", R_TWO_WAY, {}),
            ("zip", "BillingPostalCode", R_TWO_WAY, {}),
            ("country", "BillingCountry", R_TWO_WAY, {}),
        ],
        [],
    ),
    (
        "contacts",
        "Contact",
        20,
        True,
        [
            ("email", "Email", R_TWO_WAY, {}),
            ("firstname", "FirstName", R_TWO_WAY, {}),
            ("lastname", "LastName", R_TWO_WAY, {}),
            ("phone", "Phone", R_TWO_WAY, {}),
            ("mobilephone", "MobilePhone", R_TWO_WAY, {}),
            ("fax", "Fax", R_TWO_WAY, {}),
            ("jobtitle", "Title", R_TWO_WAY, {}),
            ("address", "MailingStreet", R_TWO_WAY, {}),
            ("city", "MailingCity", R_TWO_WAY, {}),
            ("state", "MailingState", R_TWO_WAY, {}),
            ("zip", "MailingPostalCode", R_TWO_WAY, {}),
            ("country", "MailingCountry", R_TWO_WAY, {}),
            ("notes", "Description", R_TWO_WAY, {}),
        ],
        [("AccountId", ("contacts", "companies", "Primary"), "Account")],
    ),
    (
        "contacts",
        "Lead",
        15,  # before Contact: conversions relink records before Contacts are matched
        False,  # contacts become Leads until converted: opt in per org
        [
            ("email", "Email", R_TWO_WAY, {}),
            ("firstname", "FirstName", R_TWO_WAY, {}),
            ("lastname", "LastName", R_TWO_WAY, {}),
            ("company", "Company", R_TWO_WAY, {}),
            ("phone", "Phone", R_TWO_WAY, {}),
            ("mobilephone", "MobilePhone", R_TWO_WAY, {}),
            ("jobtitle", "Title", R_TWO_WAY, {}),
            ("website", "Website", R_TWO_WAY, {}),
            ("address", "Street", R_TWO_WAY, {}),
            ("city", "City", R_TWO_WAY, {}),
            ("zip", "PostalCode", R_TWO_WAY, {}),
        ],
        [],
    ),
    (
        "deals",
        "Opportunity",
        30,
        True,
        [
            ("dealname", "Name", R_TWO_WAY, {}),
            ("amount", "Amount", R_TWO_WAY, {}),
            ("dealstage", "StageName", R_TWO_WAY, DEAL_STAGE_MAP),
            ("closedate", "CloseDate", R_TWO_WAY, {}),
            ("description", "Description", R_TWO_WAY, {}),
        ],
        [
            ("AccountId", ("deals", "companies", "Primary"), "Account"),
            ("OpportunityContactRole", ("deals", "contacts", ""), "Contact"),
        ],
    ),
    (
        "tasks",
        "Task",
        40,
        True,
        [
            ("subject", "Subject", R_TWO_WAY, {}),
            ("body", "Description", R_TWO_WAY, {}),
            ("status", "Status", R_TWO_WAY, TASK_STATUS_MAP),
            ("priority", "Priority", R_TWO_WAY, TASK_PRIORITY_MAP),
            ("due_date", "ActivityDate", R_TWO_WAY, {}),
        ],
        [
            ("WhoId", ("tasks", "contacts", ""), "Contact"),
            ("WhatId", ("tasks", "deals", ""), "Opportunity"),
        ],
    ),
]

# How records are matched on the first sync, so connecting never creates duplicates:
# (remote object) → [(Concord property, remote field, how)], tried in order.
MATCH_KEYS = {
    "Contact": [("email", "Email", "exact")],
    "Lead": [("email", "Email", "exact")],
    "Account": [("domain", "Website", "domain"), ("name", "Name", "exact")],
}


def domain_of(url: object) -> str:
    """www.Example.com/path → example.com (how companies are matched by domain)."""
    text = str(url or "").strip().lower()
    text = re.sub(r"^[a-z]+://", "", text).split("/")[0].split(":")[0]
    return text.removeprefix("www.")
