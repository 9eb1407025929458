"""API-wide pieces: the error format of every refusal (the `Error` schema of config/schema.py)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.parsers import refusal_for
from crm.errors import (
    BatchValidationError,
    CrmError,
    PropertyInUseError,
    RecordValidationError,
    SchemaError,
)


def exception_handler(exc, context):
    """Turn a refused CRM write into a 400 whose body names what was wrong.

    Shapes: `{"detail": …}` always; plus `{"errors": {"properties": {name: [msg]}}}` for record
    values, `{"errors": [{"index": i, "errors": {…}}]}` for batches, `{"errors": {field: [msg]}}`
    for schema changes (with any machine-readable `extra` of the error, e.g. `duplicates`);
    plus `{"used_in": [{kind, label, url}]}` for deleting a used property.
    DRF's own refusals (validation, authentication, permission, not found…) get the same shape.
    """
    # Django's "request too large" becomes a 413 (a 400 for the query string) with a JSON body.
    exc = refusal_for(exc, context.get("request"))
    if isinstance(exc, RecordValidationError):
        body = {
            "detail": "Some property values are invalid; nothing was written.",
            "errors": {"properties": exc.errors},
        }
    elif isinstance(exc, BatchValidationError):
        body = {
            "detail": exc.message,
            "errors": [{"index": i, "errors": e} for i, e in sorted(exc.errors.items())],
        }
    elif isinstance(exc, PropertyInUseError):
        body = {
            "detail": exc.message,
            "used_in": [{"kind": u.kind, "label": u.label, "url": u.url} for u in exc.usages],
        }
    elif isinstance(exc, SchemaError) and exc.field:
        body = {"detail": exc.message, "errors": {exc.field: [exc.message]}, **exc.extra}
    elif isinstance(exc, CrmError):
        body = {"detail": exc.message}
    else:
        response = drf_exception_handler(exc, context)
        if response is not None:
            response.data = error_body(response.data)
        return response
    return Response(body, status=status.HTTP_400_BAD_REQUEST)


def error_body(data: Any) -> dict:
    """DRF's error data in the one error shape: a `detail` sentence, `errors` by field."""
    if isinstance(data, dict) and isinstance(data.get("detail"), str):
        return data
    if isinstance(data, dict):
        data = dict(data)
        if "detail" in data:  # a view's ValidationError({"detail": msg}): the sentence itself
            detail = _first_message(data.pop("detail"))
            return {"detail": detail, "errors": data} if data else {"detail": detail}
        if not data:
            return {"detail": "Invalid input."}
        field = next(iter(data))
        message = _first_message(data[field])
        # A list input's errors are keyed by the item's index: the message says enough.
        detail = f"{field}: {message}" if isinstance(field, str) else f"item {field}: {message}"
        return {"detail": detail, "errors": data}
    if isinstance(data, list) and any(isinstance(item, dict) for item in data):
        return {"detail": _first_message(data), "errors": data}  # a list input, item by item
    if isinstance(data, list):  # ValidationError("msg"): not about one field
        return {"detail": " ".join(str(m) for m in data) or "Invalid input."}
    return {"detail": str(data)}


def _first_message(value: Any) -> str:
    """The first message in DRF's nesting of lists and dicts of messages."""
    while isinstance(value, (list, dict)) and value:
        value = next(iter(value.values())) if isinstance(value, dict) else value[0]
    return str(value) if value not in ([], {}) else "Invalid input."


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 404 (no route matched): the error body under /api/, the usual page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
    return defaults.page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 400 (e.g. a suspicious request): the error body under /api/."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Bad request."}, status=status.HTTP_400_BAD_REQUEST)
    return defaults.bad_request(request, exception)
