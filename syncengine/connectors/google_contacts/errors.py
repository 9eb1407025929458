"""Google's error reasons and statuses → the eight sync-error categories of SPEC H-1."""

from __future__ import annotations

import json

from googleapiclient.errors import HttpError

from syncengine.connectors.base import RemoteError

CONTACT_LIMIT_EXCEEDED = "CONTACT_LIMIT_EXCEEDED"
CONTACT_SIZE_LIMIT_EXCEEDED = "CONTACT_SIZE_LIMIT_EXCEEDED"
STORAGE_LIMIT_CODES = {CONTACT_LIMIT_EXCEEDED, CONTACT_SIZE_LIMIT_EXCEEDED}
EXPIRED_SYNC_TOKEN = "EXPIRED_SYNC_TOKEN"
ETAG_MISMATCH = "FAILED_PRECONDITION"
BATCH_ERROR_DETAILS = (
    "google.people.v1.BatchCreateContactsErrorDetails",
    "google.people.v1.BatchUpdateContactsErrorDetails",
)

_CATEGORIES = {
    "other": STORAGE_LIMIT_CODES | {"FAILED_PRECONDITION", "NOT_FOUND", "INTERNAL"},
    "property_values": {"INVALID_ARGUMENT"},
    "permissions": {"PERMISSION_DENIED", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"},
    "duplicates": {"ALREADY_EXISTS"},
}
_BY_CODE = {code: category for category, codes in _CATEGORIES.items() for code in codes}

# Shown on the error's details page (SPEC G-5), in place of the category's generic steps.
RESOLUTION_STEPS = {
    CONTACT_LIMIT_EXCEEDED: [
        "The Google account holds 25,000 contacts, counting Other contacts and the Trash: "
        "Google refuses new ones.",
        "Empty the Trash in Google Contacts (deleted contacts count until it is emptied).",
        "Delete Other contacts you do not need (Gmail saves everyone you email there).",
        "Merge or delete duplicate and unneeded contacts (Google Contacts → Merge & fix).",
        "Select these errors and Resync: the contacts are created once there is room.",
    ],
    CONTACT_SIZE_LIMIT_EXCEEDED: [
        "Google stores at most 128 KB per contact, and this contact would pass it.",
        "Shorten long values mapped to Google (notes are the usual cause) in Concord, or remove "
        "data from the contact in Google Contacts.",
        "Select the error and Resync once the contact is smaller.",
    ],
}


def classify(code: str, *, reference: bool = True) -> str:
    """The category of a Google error reason or status (no references on Google)."""
    return _BY_CODE.get(code, "other")


def error_body(exc: HttpError) -> dict:
    try:
        return json.loads(exc.content).get("error") or {}
    except (ValueError, AttributeError):
        return {}


def reason_of(status: dict) -> str:
    """The ErrorInfo reason of a google.rpc.Status, or its status name."""
    for detail in status.get("details") or []:
        if detail.get("reason"):
            return detail["reason"]
    return str(status.get("status") or "")


def batch_contact_errors(error: dict) -> dict[str, dict]:
    """The per-contact statuses of a refused batch write: Google fails a whole
    batchCreateContacts / batchUpdateContacts for its invalid contacts with 400 and one
    ``BatchCreateContactsErrorDetails`` (keyed by request index) or
    ``BatchUpdateContactsErrorDetails`` (keyed by resource name). Empty for any other error."""
    for detail in error.get("details") or []:
        if str(detail.get("@type", "")).endswith(BATCH_ERROR_DETAILS):
            contact_errors = detail.get("contactErrors")
            if isinstance(contact_errors, dict):
                return {str(k): v for k, v in contact_errors.items() if isinstance(v, dict)}
    return {}


# google.rpc codes worth sending again (google/rpc/code.proto: UNAVAILABLE "may be corrected by
# retrying with a backoff", ABORTED a concurrency failure); a refused batch created nothing.
RETRYABLE_CODES = {
    4: "DEADLINE_EXCEEDED",
    8: "RESOURCE_EXHAUSTED",
    10: "ABORTED",
    13: "INTERNAL",
    14: "UNAVAILABLE",
}
TRANSIENT_CODES = frozenset(RETRYABLE_CODES.values())


def is_retryable(status: dict) -> bool:
    """A per-contact status that may succeed when sent again."""
    code = status.get("code")
    return (
        code in RETRYABLE_CODES
        or code in TRANSIENT_CODES
        or (status.get("status") in TRANSIENT_CODES)
    )


def is_stale_etag(status: dict) -> bool:
    """FAILED_PRECONDITION for an etag that is not the contact's current one."""
    code = status.get("code")
    failed_precondition = code in (9, "FAILED_PRECONDITION") or (
        status.get("status") == "FAILED_PRECONDITION"
    )
    return failed_precondition and "etag" in str(status.get("message", "")).lower()


def remote_error(status: dict) -> RemoteError:
    """A per-contact (or whole-request) google.rpc.Status → the engine's RemoteError."""
    code = reason_of(status) or _STATUS_BY_NUMBER.get(status.get("code"), "UNKNOWN")
    return RemoteError(code=code, message=str(status.get("message") or code))


# google.rpc.Code numbers as per-contact statuses carry them.
_STATUS_BY_NUMBER = {
    3: "INVALID_ARGUMENT",
    5: "NOT_FOUND",
    6: "ALREADY_EXISTS",
    7: "PERMISSION_DENIED",
    9: "FAILED_PRECONDITION",
    **RETRYABLE_CODES,
}
