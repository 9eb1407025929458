"""Salesforce's error shapes: ``errorCode`` at the top level, ``statusCode`` per record."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error answered in Salesforce's format; ``status`` is the HTTP status of a single call."""

    def __init__(
        self,
        code: str,
        message: str,
        fields: list[str] | None = None,
        status: int = 400,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.fields = fields
        self.status = status
        self.extra = extra or {}

    def top_level(self) -> dict[str, Any]:
        """The item of the JSON array a failed non-collection call answers with."""
        body: dict[str, Any] = dict(self.extra)
        body["message"] = self.message
        body["errorCode"] = self.code
        if self.fields is not None:
            body["fields"] = self.fields
        return body

    def per_record(self) -> dict[str, Any]:
        """The item of a SaveResult's ``errors`` list."""
        return {"statusCode": self.code, "message": self.message, "fields": self.fields or []}


def not_found() -> ApiError:
    return ApiError("NOT_FOUND", "The requested resource does not exist", status=404)


def invalid_session() -> ApiError:
    return ApiError("INVALID_SESSION_ID", "Session expired or invalid", status=401)


def malformed_id(value: str) -> ApiError:
    return ApiError("MALFORMED_ID", f"malformed id {value}", [])


def invalid_type(name: str) -> ApiError:
    return ApiError(
        "INVALID_TYPE",
        f"sObject type '{name}' is not supported. If you are attempting to use a custom object, "
        "be sure to append the '__c' after the entity name. Please reference your WSDL or the "
        "describe call for the appropriate names.",
    )


def no_such_column(field: str, sobject: str) -> ApiError:
    return ApiError(
        "INVALID_FIELD", f"No such column '{field}' on sobject of type {sobject}", [field]
    )


def rolled_back() -> ApiError:
    return ApiError(
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "Record rolled back because not all records were valid and the request was using "
        "AllOrNone header",
        [],
    )
