"""API-wide pieces: the error format for refused writes."""

from __future__ import annotations

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
    for schema changes; plus `{"used_in": [{kind, label, url}]}` for deleting a used property.
    """
    exc = refusal_for(exc)  # Django's "request too large" becomes a 413 with a JSON body
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
        body = {"detail": exc.message, "errors": {exc.field: [exc.message]}}
    elif isinstance(exc, CrmError):
        body = {"detail": exc.message}
    else:
        return drf_exception_handler(exc, context)
    return Response(body, status=status.HTTP_400_BAD_REQUEST)
