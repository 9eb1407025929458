"""Cursor pagination for the API: a cursor not made by Concord is a 400, never a 500."""

from __future__ import annotations

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from rest_framework import pagination
from rest_framework.exceptions import NotFound, ValidationError

from config.bounds import bound_problem

INVALID_CURSOR = "invalid cursor"


class CursorPagination(pagination.CursorPagination):
    """DRF's cursor pagination, checking the cursor's position against the ordering field.

    DRF decodes a cursor's position as text and hands it to the queryset, so a crafted one
    (`base64("p=abc")`, an id past 64 bits, a datetime past 9999) fails in the database; and an
    undecodable cursor is a 404. Here both are a 400 naming `cursor`.
    """

    def paginate_queryset(self, queryset, request, view=None):
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise _invalid() from None
        if cursor is not None and cursor.position is not None:
            self._check_position(cursor.position)
        return cursor

    def _check_position(self, position: str) -> None:
        try:
            field = self._model._meta.get_field(self.ordering[0].lstrip("-"))
        except FieldDoesNotExist:  # ordered by an annotation: nothing to check it against
            return
        try:
            value = field.to_python(position)
        except (DjangoValidationError, ValueError, TypeError, OverflowError):
            raise _invalid() from None
        # Positions Concord writes always carry their offset; a naive one was made elsewhere.
        naive = isinstance(field, models.DateTimeField) and value.tzinfo is None
        if value is None or naive or bound_problem(value):
            raise _invalid()


def _invalid() -> ValidationError:
    return ValidationError({"detail": INVALID_CURSOR, "errors": {"cursor": [INVALID_CURSOR]}})
