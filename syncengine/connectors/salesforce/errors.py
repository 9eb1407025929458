"""Salesforce error codes: the eight sync-error categories of SPEC H-1, and which failures are
worth sending again."""

from __future__ import annotations

from syncengine.codes import SyncErrorCode as Code
from syncengine.connectors.base import WriteOutcome

# Sends of one request, or of one record that failed transiently, before its failure stands.
MAX_ATTEMPTS = 4
# A record refused with only these is sent again after a pause (it stays dirty if they last).
TRANSIENT_CODES = frozenset({"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE"})

ASSOCIATIONS = "associations"
CUSTOM_CODE = "custom_code"
DUPLICATES = "duplicates"
PERMISSIONS = "permissions"
PICKLISTS = "picklists"
PROPERTY_MAPPINGS = "property_mappings"
PROPERTY_VALUES = "property_values"
OTHER = "other"

_CATEGORIES = {
    DUPLICATES: {Code.DUPLICATE_VALUE, "DUPLICATES_DETECTED", "DUPLICATE_EXTERNAL_ID"},
    CUSTOM_CODE: {
        "FIELD_CUSTOM_VALIDATION_EXCEPTION",
        "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY",
        "CANNOT_EXECUTE_FLOW_TRIGGER",
        "FIELD_FILTER_VALIDATION_EXCEPTION",
        "ENTITY_IS_LOCKED",
    },
    PERMISSIONS: {
        "INSUFFICIENT_ACCESS_OR_READONLY",
        "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY",
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        "INACTIVE_OWNER_OR_USER",
        Code.OWNER_HAS_NO_ACTIVE_USER,
        Code.OWNER_USER_UNKNOWN,
        Code.FIELD_NOT_ACCESSIBLE,
        Code.FIELD_NOT_UPDATEABLE,
    },
    PICKLISTS: {
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        "TOO_MANY_ENUM_VALUE",
        Code.PICKLIST_VALUE_UNMATCHED,
    },
    PROPERTY_MAPPINGS: {
        "INVALID_FIELD",
        "INVALID_TYPE_ON_FIELD_IN_RECORD",
        Code.INCOMPATIBLE_FIELD_TYPE,
        Code.PROPERTY_MISSING,
    },
    PROPERTY_VALUES: {
        "REQUIRED_FIELD_MISSING",
        "STRING_TOO_LONG",
        "INVALID_EMAIL_ADDRESS",
        "NUMBER_OUTSIDE_VALID_RANGE",
        "FIELD_INTEGRITY_EXCEPTION",
        "INVALID_TYPE_FOR_OPERATION",
        "JSON_PARSER_ERROR",
        Code.INVALID_PROPERTY_VALUE,
        "CANNOT_UPDATE_CONVERTED_LEAD",
    },
    ASSOCIATIONS: {
        "INVALID_CROSS_REFERENCE_KEY",
        Code.ASSOCIATED_RECORD_NOT_SYNCED,
        Code.ASSOCIATION_LIMIT_REACHED,
        "MALFORMED_ID",
    },
}
_BY_CODE = {code: category for category, codes in _CATEGORIES.items() for code in codes}


def classify(code: str, *, reference: bool = True) -> str:
    """The category of a Salesforce status code (or of one of the engine's own codes).

    `reference`: whether the error names a reference field; a MALFORMED_ID that does not is
    a bad value of some other kind, not an association problem."""
    if code == "MALFORMED_ID" and not reference:
        return OTHER
    return _BY_CODE.get(code, OTHER)


def only_transient(outcome: WriteOutcome) -> bool:
    """Whether a record's write failed for transient reasons only (worth sending again)."""
    return bool(outcome.errors) and all(e.code in TRANSIENT_CODES for e in outcome.errors)
