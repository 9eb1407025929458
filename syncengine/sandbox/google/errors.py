"""Google's error envelope (google.rpc.Status over JSON) and the errors the People API answers."""

from __future__ import annotations

from typing import Any

ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
DOMAIN = "people.googleapis.com"

# google.rpc.Code numbers, used in per-person ``status`` objects of batch answers.
RPC_CODES = {
    "OK": 0,
    "INVALID_ARGUMENT": 3,
    "NOT_FOUND": 5,
    "ALREADY_EXISTS": 6,
    "PERMISSION_DENIED": 7,
    "RESOURCE_EXHAUSTED": 8,
    "FAILED_PRECONDITION": 9,
    "ABORTED": 10,
    "DEADLINE_EXCEEDED": 4,
    "INTERNAL": 13,
    "UNAVAILABLE": 14,
    "UNAUTHENTICATED": 16,
}

# Per-contact faults the control API can queue for batch writes: google.rpc status → (HTTP
# status, message). A test harness's tool, not a behaviour of Google's to reproduce.
CONTACT_FAULTS = {
    "ABORTED": (409, "The operation was aborted."),
    "UNAVAILABLE": (503, "The service is currently unavailable."),
    "INTERNAL": (500, "Internal error encountered."),
}

MASK_DOCS = "https://developers.google.com/people/api/rest/v1/people/get"
UPDATE_MASK_DOCS = "https://developers.google.com/people/api/rest/v1/people/updateContact"
UPDATE_MASKS = {"updatePersonFields", "updateMask"}


class ApiError(Exception):
    """An error answered as ``{"error": {"code", "message", "status", "details"}}``."""

    def __init__(
        self,
        http_status: int,
        status: str,
        message: str,
        reason: str | None = None,
        domain: str = DOMAIN,
        metadata: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        extra_details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(f"{http_status} {status}: {message}")
        self.http_status = http_status
        self.status = status
        self.message = message
        self.reason = reason
        self.domain = domain
        self.metadata = metadata
        self.headers = headers or {}
        self.extra_details = extra_details or []

    def details(self) -> list[dict[str, Any]]:
        if not self.reason:
            return list(self.extra_details)
        info: dict[str, Any] = {"@type": ERROR_INFO, "reason": self.reason, "domain": self.domain}
        if self.metadata:
            info["metadata"] = self.metadata
        return [info, *self.extra_details]

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "code": self.http_status,
            "message": self.message,
            "status": self.status,
        }
        if details := self.details():
            error["details"] = details
        return {"error": error}

    def rpc_status(self) -> dict[str, Any]:
        """The google.rpc.Status of one person inside a batch answer (numeric code)."""
        status: dict[str, Any] = {"code": RPC_CODES.get(self.status, 2), "message": self.message}
        if details := self.details():
            status["details"] = details
        return status


BATCH_CREATE_ERRORS = "type.googleapis.com/google.people.v1.BatchCreateContactsErrorDetails"
BATCH_UPDATE_ERRORS = "type.googleapis.com/google.people.v1.BatchUpdateContactsErrorDetails"


def batch_failed(detail_type: str, errors: dict[str, ApiError]) -> ApiError:
    """A whole batch refused for its invalid contacts (Google's batch writes are all or
    nothing): 400 with one ``contactErrors`` map keyed by request index (create) or resource
    name (update). The top-level status and message are the first invalid contact's — Google
    documents only the details' shape, so that choice is the sandbox's."""
    first = next(iter(errors.values()))
    contact_errors = {key: error.rpc_status() for key, error in errors.items()}
    return ApiError(
        400,
        first.status,
        first.message,
        extra_details=[{"@type": detail_type, "contactErrors": contact_errors}],
    )


def invalid_argument(message: str, reason: str | None = None) -> ApiError:
    return ApiError(400, "INVALID_ARGUMENT", message, reason)


def failed_precondition(message: str, reason: str | None = None) -> ApiError:
    return ApiError(400, "FAILED_PRECONDITION", message, reason)


def not_found() -> ApiError:
    return ApiError(404, "NOT_FOUND", "Requested entity was not found.")


def method_not_allowed(method: str) -> ApiError:
    # Google's front end answers an unknown verb on a known path with 404 and an HTML page; a JSON
    # 405 is friendlier and no client branches on it.
    return ApiError(405, "METHOD_NOT_ALLOWED", f"Method {method} is not allowed on this path.")


def _mask_docs(name: str) -> str:
    return UPDATE_MASK_DOCS if name in UPDATE_MASKS else MASK_DOCS


def mask_required(name: str) -> ApiError:
    # Google's wording, as captured: "personFields mask is required. …" and "updatePersonFields
    # mask is required. … people/updateContact.", but "readMask is required. …".
    subject = name if name.endswith("Mask") else f"{name} mask"
    return invalid_argument(
        f"{subject} is required. Please specify one or more valid paths. "
        f"Valid paths are documented at {_mask_docs(name)}."
    )


def invalid_mask_path(name: str, path: str) -> ApiError:
    return invalid_argument(
        f'Invalid {name} mask path: "{path}". Valid paths are documented at {_mask_docs(name)}.'
    )


def expired_sync_token() -> ApiError:
    return failed_precondition(
        "Sync token is expired. Clear local cache and retry call without the sync token.",
        "EXPIRED_SYNC_TOKEN",
    )


def etag_mismatch() -> ApiError:
    return failed_precondition(
        "Request person.etag is different than the current person.etag. "
        "Clear local cache and get the latest person."
    )


def etag_missing() -> ApiError:
    return invalid_argument(
        "Request must set person.etag or person.metadata.sources.etag for the source that is "
        "being updated."
    )


def memberships_required() -> ApiError:
    # Google documents the 400 but not its text; the message is the sandbox's own.
    return invalid_argument("A contact must always have at least one contact group membership.")


def contact_limit_exceeded(limit: int) -> ApiError:
    # Google's exact wording is unknown (see the reference); this message and reason are the
    # sandbox's own, documented in README.md.
    return failed_precondition(
        f"Contact storage limit exceeded ({limit} contacts, counting Other contacts and Trash).",
        "CONTACT_LIMIT_EXCEEDED",
    )


def contact_too_large(limit_bytes: int) -> ApiError:
    return invalid_argument(
        f"Contact is too large (max {limit_bytes // 1024} KB).", "CONTACT_SIZE_LIMIT_EXCEEDED"
    )


def unauthenticated(reason: str) -> ApiError:
    return ApiError(
        401,
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
        "cookie or other valid authentication credential. See "
        "https://developers.google.com/identity/sign-in/web/devconsole-project.",
        reason,
        domain="googleapis.com",
        metadata={"service": DOMAIN, "method": "google.people.v1"},
        headers={
            "WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'
        },
    )


def scope_insufficient() -> ApiError:
    return ApiError(
        403,
        "PERMISSION_DENIED",
        "Request had insufficient authentication scopes.",
        "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
        domain="googleapis.com",
        metadata={"service": DOMAIN},
    )


def internal() -> ApiError:
    return ApiError(500, "INTERNAL", "Internal error encountered.")


def unavailable() -> ApiError:
    return ApiError(503, "UNAVAILABLE", "The service is currently unavailable.")
