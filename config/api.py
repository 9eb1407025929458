"""API-wide pieces: the error format of every refusal (the `Error` schema of config/schema.py)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.errors import ConcordError
from config.parsers import refusal_for


def exception_handler(exc, context):
    """Answer a refusal with its status and the one error body (config/schema.py `Error`).

    A service's refusal (config.errors.ConcordError: crm, backups, syncengine) answers with its
    own `status`, `body()` and `headers()`: `{"detail": …}` always; plus `{"errors": {field:
    [msg]}}` when it names a field (`{"errors": {"properties": {name: [msg]}}}` for record values,
    `{"errors": [{"index": i, "errors": {…}}]}` for batches), any machine-readable `extra` (e.g.
    `duplicates`, `next_allowed_at`), `{"used_in": [{kind, label, url}]}` for deleting a used
    property. Django's ValidationError (a model or service check) is a 400 with its messages by
    field, like DRF's own refusals (validation, authentication, permission, not found…).
    Anything else, a ValueError included, is a bug: a 500, never a 400.
    """
    # Django's "request too large" becomes a 413 (a 400 for the query string) with a JSON body.
    exc = refusal_for(exc, context.get("request"))
    if isinstance(exc, ConcordError):
        return Response(exc.body(), status=exc.status, headers=exc.headers())
    if isinstance(exc, DjangoValidationError):
        exc = ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    response = drf_exception_handler(exc, context)
    if response is not None:
        response.data = error_body(response.data)
    return response


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
