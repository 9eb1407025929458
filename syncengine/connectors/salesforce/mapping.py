"""Salesforce mapping knowledge: default mappings, type compatibility, value conversion.

Value conversion is shared by every connector (syncengine/connectors/values.py).
"""

from __future__ import annotations

import datetime as dt
import re

from syncengine.connectors.salesforce.errors import classify  # noqa: F401  (codec name)
from syncengine.connectors.values import (  # noqa: F401  (the engine's codec names)
    COMPATIBLE_TYPES,
    UnmatchedValue,
    _format_datetime,
    is_compatible,
    normalize_remote,
    parse_remote_datetime,
    to_local,
    to_remote,
)

EXTERNAL_ID_FIELD = "Concord_Id__c"
# Salesforce refuses a deactivated user as owner with this code, naming no field.
OWNER_REFUSED_CODES = frozenset({"INACTIVE_OWNER_OR_USER"})


def soql_id(value: str) -> str:
    """A quoted SOQL literal of a record id (15 or 18 letters and digits, nothing to escape)."""
    if not re.fullmatch(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?", value):
        raise ValueError(f"not a Salesforce id: {value!r}")
    return f"'{value}'"


def soql_datetime(value: dt.datetime) -> str:
    """A SOQL datetime literal (unquoted, UTC)."""
    return _format_datetime(value)


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

# Every default mapping syncs the record's owner with OwnerId: the owner's id in Concord, the
# Id of the owner's Salesforce user there (engine/owners.py translates, matched by email).
OWNER = ("owner", "OwnerId", R_TWO_WAY, {})
OWNER_OBJECTS = ("Account", "Contact", "Lead", "Opportunity", "Task")

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
            OWNER,
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
            OWNER,
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
            OWNER,
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
            OWNER,
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
            OWNER,
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
